/* SPDX-License-Identifier: Apache-2.0 */
/* Least privilege: after the collectors are initialised (BPF programs loaded, files opened), keep
 * only the capabilities the running agent still uses, optionally switch to an unprivileged user,
 * and set PR_SET_NO_NEW_PRIVS. */
#ifndef HK_PRIVS_H
#define HK_PRIVS_H

#include "core/error.h"

/* Capabilities kept at run time, by default: CAP_SYS_PTRACE and CAP_DAC_READ_SEARCH (reading
 * other processes' /proc/<pid>/net/dev and root-only cgroup files). Everything else — including
 * CAP_BPF, CAP_PERFMON and CAP_SYS_ADMIN once programs are loaded — is dropped from the
 * effective, permitted, inheritable and bounding sets.
 * runas_user: NULL, a user name or a numeric uid. Returns 0 or -errno with err set. */
int hk_privs_drop(const char *runas_user, struct hk_error *err);
/* Validates runas_user exists (for --config.check). */
int hk_privs_check(const char *runas_user, struct hk_error *err);

#endif
