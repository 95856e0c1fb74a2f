/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer target for the agent configuration loader (agent/config.c: hk_config_load and the
 * sections it validates through their owners: relabel rules, collector options, limits) and the
 * web-config loader (exporter/webconfig.c). The first byte picks the loader; the rest is the
 * file, written to a private temporary directory (files named in a web-config resolve there, so
 * only the fuzzer's own files and absolute paths are reachable). */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/config.h"
#include "core/log.h"
#include "exporter/webconfig.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* Warnings (unset ${VAR}s, unknown keys) would be printed for most inputs: errors only. */
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    hk_log_setup(HK_LOG_ERROR, HK_LOG_LOGFMT);
    return 0;
}

static char dir[64];
static char path[96];

static int write_all(const uint8_t *data, size_t size)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return -errno;
    while (size > 0) {
        ssize_t n = write(fd, data, size);
        if (n <= 0) {
            close(fd);
            return -EIO;
        }
        data += n;
        size -= (size_t)n;
    }
    close(fd);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!dir[0]) {
        snprintf(dir, sizeof(dir), "/tmp/hk-fuzz-config.XXXXXX");
        if (!mkdtemp(dir))
            abort();
        snprintf(path, sizeof(path), "%s/config.yml", dir);
    }
    if (size < 1)
        return 0;
    if (write_all(data + 1, size - 1) < 0)
        abort();
    struct hk_error err;
    memset(&err, 0, sizeof(err));
    if (data[0] & 1) {
        struct hk_webconfig *wc = NULL;
        if (hk_webconfig_load(path, &wc, &err) == 0) {
            if (!wc)
                abort();
            hk_webconfig_free(wc);
        }
    } else {
        struct hk_config cfg;
        hk_config_init(&cfg);
        /* Bit 1: also apply command-line overrides onto the fuzzed tree. */
        static const struct hk_config_override ov[] = {
            {"collectors.cpu.enabled", "false", "--no-collector.cpu", false},
            {"global.collection_interval", "2s", "--collection.interval", false},
        };
        size_t nov = (data[0] & 2) ? 2 : 0;
        if (hk_config_load(&cfg, path, ov, nov, &err) == 0 &&
            (cfg.collection_interval_ms <= 0 || !cfg.root))
            abort();
        hk_config_free(&cfg);
    }
    if (!memchr(err.msg, '\0', sizeof(err.msg)))
        abort();
    return 0;
}
