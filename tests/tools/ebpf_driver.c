/* SPDX-License-Identifier: Apache-2.0 */
/* Test driver for the eBPF collector: initialises it exactly as the agent does (attach at
 * init), optionally publishes cgroup paths into the container index, prints "ready", then for
 * every line read on stdin runs one collection and prints the exposition (text 0.0.4) followed
 * by "### end". Exits at EOF. Lets integration tests run a known workload between attach and
 * collection.
 *   ebpf_driver [--publish PATH=CONTAINER]... [--options YAML]   (YAML = collectors.ebpf map) */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector/containers.h"
#include "core/buf.h"
#include "core/collector.h"
#include "core/log.h"
#include "exporter/textfmt.h"

extern const struct hk_collector_ops hk_collector_ebpf;

#define MAX_PUBLISH 16

int main(int argc, char **argv)
{
    struct hk_container_entry entries[MAX_PUBLISH];
    size_t n = 0;
    const char *options = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--publish") && i + 1 < argc && n < MAX_PUBLISH) {
            char *spec = argv[++i];
            char *eq = strchr(spec, '=');
            if (!eq) {
                fprintf(stderr, "ebpf_driver: --publish PATH=CONTAINER\n");
                return 2;
            }
            *eq = '\0';
            entries[n] = (struct hk_container_entry){spec, eq + 1, "hakari-test:1", eq + 1, "", ""};
            n++;
        } else if (!strcmp(argv[i], "--options") && i + 1 < argc) {
            options = argv[++i];
        } else {
            fprintf(stderr, "usage: ebpf_driver [--publish PATH=CONTAINER]... [--options YAML]\n");
            return 2;
        }
    }
    hk_log_setup(getenv("HK_DEBUG") ? HK_LOG_DEBUG : HK_LOG_INFO, HK_LOG_LOGFMT);
    if (n && hk_containers_publish(entries, n) < 0)
        return 1;

    struct hk_paths paths;
    struct hk_error err = {{0}};
    struct hk_yaml_node *opts = NULL;
    if (hk_paths_open(&paths, "/", NULL, NULL) < 0)
        return 1;
    if (options && hk_yaml_parse_string("options", options, strlen(options), &opts, &err) < 0) {
        fprintf(stderr, "ebpf_driver: %s\n", err.msg);
        return 2;
    }
    /* "ready" must mean attached: load in the foreground. */
    if (!opts && !(opts = hk_yaml_new_root("options")))
        return 1;
    if (!hk_yaml_get(opts, "load_in_background") &&
        hk_yaml_set_path(opts, "load_in_background", "false", "ebpf_driver") < 0)
        return 1;
    struct hk_collector_env env = {&paths, NULL, opts, &err};
    void *state = NULL;
    if (hk_collector_ebpf.check && hk_collector_ebpf.check(&env) < 0) {
        fprintf(stderr, "ebpf_driver: %s\n", err.msg);
        return 2;
    }
    if (hk_collector_ebpf.init(&state, &env) < 0) {
        fprintf(stderr, "ebpf_driver: init failed: %s\n", err.msg);
        return 1;
    }
    printf("ready\n");
    fflush(stdout);

    char line[64];
    int rc = 0;
    while (fgets(line, sizeof(line), stdin)) {
        struct hk_limits limits = {0, 0, 0};
        struct hk_builder *b = hk_builder_new(&limits);
        if (!b) {
            rc = 1;
            break;
        }
        struct hk_collect_ctx ctx = {b, &paths, 0, 0};
        hk_builder_begin(b, "ebpf");
        int r = hk_collector_ebpf.collect(state, &ctx);
        if (r < 0) {
            fprintf(stderr, "ebpf_driver: collect: %s\n", strerror(-r));
            hk_builder_abort(b);
            rc = 1;
        } else {
            hk_builder_commit(b);
        }
        struct hk_snapshot *snap = hk_builder_seal(b, 0, NULL);
        if (!snap) {
            rc = 1;
            break;
        }
        struct hk_buf out;
        hk_buf_init(&out, 64 << 20);
        if (hk_textfmt_render(snap, HK_TEXTFMT_TEXT, &out) == 0)
            fwrite(out.data, 1, out.len, stdout);
        printf("### end\n");
        fflush(stdout);
        hk_buf_free(&out);
        hk_snapshot_unref(snap);
    }
    hk_collector_ebpf.fini(state);
    hk_yaml_free(opts);
    hk_containers_reset();
    hk_paths_close(&paths);
    return rc;
}
