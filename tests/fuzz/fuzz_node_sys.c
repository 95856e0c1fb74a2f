/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer target for the sysfs attribute and os-release parsers of the netclass, time and os
 * collectors (collector/node_parsers.h). Input: [parser byte] then the file's bytes, parsed from
 * an exact-size copy (a read past the end is caught); results are checked against the
 * documented bounds. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "collector/node_parsers.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    char *buf = malloc(size - 1 ? size - 1 : 1);
    if (!buf)
        return 0;
    size_t len = size - 1;
    memcpy(buf, data + 1, len);
    switch (data[0] % 3) {
    case 0: {
        int64_t v;
        int r = hk_sysfs_parse_i64(buf, len, &v);
        if (r != 0 && r != -EINVAL && r != -ERANGE)
            abort();
        const char *s = buf;
        size_t n = hk_sysfs_trim(&s, len);
        if (s < buf || s + n > buf + len)
            abort();
        break;
    }
    case 1: {
        static struct hk_os_release os;
        int r = hk_os_release_parse(buf, len, &os);
        if (r != 0 && r != -EINVAL && r != -ERANGE)
            abort();
        if (r == 0)
            for (unsigned i = 0; i < HK_OS_NFIELDS; i++)
                if (!memchr(os.v[i], '\0', sizeof(os.v[i])))
                    abort();
        break;
    }
    case 2: {
        char s[32];
        size_t n = len < sizeof(s) - 1 ? len : sizeof(s) - 1;
        memcpy(s, buf, n);
        s[n] = '\0';
        int64_t t;
        (void)hk_os_support_end(s, &t);
        if (hk_os_version_number(s) < 0)
            abort();
        break;
    }
    }
    free(buf);
    return 0;
}
