/* SPDX-License-Identifier: Apache-2.0 */
/* The error report every loader and setup function fills: one message, already formatted for a
 * person ("file:line:col: what is wrong" when it has a position; see hk_error_at in
 * core/yaml.h). Fixed size: filling it never allocates, so it also reports out of memory. */
#ifndef HK_ERROR_H
#define HK_ERROR_H

struct hk_error {
    char msg[512];
};

#endif
