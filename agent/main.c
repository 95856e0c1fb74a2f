/* SPDX-License-Identifier: Apache-2.0 */
/* hakari: flags, signals, lifecycle. Collect on a schedule, serve /metrics, push remote-write. */
#include <errno.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/exporters.h"
#include "agent/privs.h"
#include "agent/scheduler.h"
#include "core/buf.h"
#include "core/collector.h"
#include "core/config.h"
#include "core/log.h"
#include "exporter/protofmt.h"
#include "exporter/textfmt.h"

#define MAX_OVERRIDES 256

struct options {
    const char *config_file;
    const char *rootfs, *procfs, *sysfs;
    struct hk_exporter_flags web;
    const char *log_level, *log_format;
    const char *runas_user;
    bool once, check, version, help;
    const char *once_protobuf; /* hidden, for tests: --once also writes the protobuf body here */
    struct hk_config_override ov[MAX_OVERRIDES];
    size_t nov;
    /* Storage for synthesised override paths. */
    char ov_paths[MAX_OVERRIDES][160];
};

static void usage(FILE *out)
{
    fprintf(out,
            "usage: hakari [flags]\n"
            "\n"
            "Measures the containers, pods and the node it runs on; serves /metrics and pushes\n"
            "Prometheus remote-write. Flags override the config file.\n"
            "\n"
            "  --config.file=FILE          YAML configuration (default: none, built-in defaults)\n"
            "  --config.check              validate the configuration and flags, print a summary,\n"
            "                              exit 0 (valid) or 1\n"
            "  --web.listen-address=ADDR   where /metrics is served (default :9810; \"\" disables)\n"
            "  --web.config.file=FILE      TLS and basic auth, Prometheus web-config format\n"
            "  --web.max-connections=N     concurrent HTTP connections (default 64); past it the\n"
            "                              one waiting longest for a request is closed\n"
            "  --web.timeout=DURATION      per-connection idle timeout (default 30s)\n"
            "  --web.read-header-timeout=DURATION  time allowed to send a complete request\n"
            "                              header, also the most a connection may wait between\n"
            "                              requests (default 10s)\n"
            "  --path.rootfs=DIR           host root (default /; /host/root in a DaemonSet)\n"
            "  --path.procfs=DIR           default <rootfs>/proc\n"
            "  --path.sysfs=DIR            default <rootfs>/sys\n"
            "  --collection.interval=DUR   collection interval (default 10s)\n"
            "  --collector.NAME            enable a collector\n"
            "  --no-collector.NAME         disable a collector\n"
            "  --collector.NAME.OPTION=V   set a collector option (collectors.NAME.OPTION)\n"
            "  --collector.textfile.directory=GLOB\n"
            "                              directory of *.prom files, a glob; repeatable\n"
            "  --runas.user=USER           after start-up, run as USER (name or uid); capabilities\n"
            "                              other than CAP_SYS_PTRACE/CAP_DAC_READ_SEARCH are\n"
            "                              always dropped and no_new_privs is set\n"
            "  --once                      collect one snapshot, print it as text, exit\n"
            "  --log.level=LEVEL           debug, info, warn, error (default info)\n"
            "  --log.format=FORMAT         logfmt or json (default logfmt)\n"
            "  --version                   print version and exit\n"
            "  --help                      this text\n"
            "\n"
            "Signals: SIGHUP reloads the config file and --web.config.file (a bad one keeps\n"
            "the old one); TLS certificate, key and client CA files are re-read when they\n"
            "change on disk, without a signal. SIGTERM/SIGINT stop cleanly.\n"
            "\n"
            /* Last: scripts read the collector table from here to the end. */
            "Collectors (default state):\n");
    for (size_t i = 0; hk_collectors[i]; i++)
        fprintf(out, "  %-22s %-4s %s\n", hk_collectors[i]->name,
                hk_collectors[i]->default_enabled ? "on" : "off", hk_collectors[i]->help);
}

/* Options whose flag may be given several times, each adding one list item (node_exporter's
 * repeatable --collector.textfile.directory); any other repeated flag: the last one wins. */
static const char *const repeatable[] = {"collectors.textfile.directory", NULL};

static int add_override(struct options *o, const char *path, const char *value, const char *flag)
{
    if (o->nov == MAX_OVERRIDES)
        return -E2BIG;
    bool append = false;
    for (size_t i = 0; repeatable[i] && !append; i++)
        if (strcmp(path, repeatable[i]) == 0)
            for (size_t k = 0; k < o->nov && !append; k++)
                append = strcmp(o->ov_paths[k], path) == 0;
    snprintf(o->ov_paths[o->nov], sizeof(o->ov_paths[0]), "%s", path);
    o->ov[o->nov] = (struct hk_config_override){o->ov_paths[o->nov], value, flag, append};
    o->nov++;
    return 0;
}

/* --name=value or --name value. */
static const char *flag_value(int argc, char **argv, int *i, const char *arg, const char *name)
{
    size_t n = strlen(name);
    if (strncmp(arg, name, n) != 0)
        return NULL;
    if (arg[n] == '=')
        return arg + n + 1;
    if (arg[n] == '\0' && *i + 1 < argc)
        return argv[++*i];
    return NULL;
}

static int parse_args(int argc, char **argv, struct options *o)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v;
        if (a[0] == '-' && a[1] != '-' && a[1] != '\0')
            a++; /* accept -flag like Go programs do */
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            o->help = true;
        } else if (!strcmp(a, "--version")) {
            o->version = true;
        } else if (!strcmp(a, "--once")) {
            o->once = true;
        } else if ((v = flag_value(argc, argv, &i, a, "--once.protobuf"))) {
            /* Not in --help: a test hook (tests/integration/protofmt.sh) that writes the
             * protobuf exposition of the same --once snapshot to a file. */
            o->once_protobuf = v;
        } else if (!strcmp(a, "--config.check")) {
            o->check = true;
        } else if ((v = flag_value(argc, argv, &i, a, "--config.file"))) {
            o->config_file = v;
        } else if ((v = flag_value(argc, argv, &i, a, "--web.listen-address"))) {
            o->web.listen_address = v;
        } else if ((v = flag_value(argc, argv, &i, a, "--web.config.file"))) {
            o->web.config_file = v;
        } else if ((v = flag_value(argc, argv, &i, a, "--web.max-connections"))) {
            o->web.max_connections = v;
        } else if ((v = flag_value(argc, argv, &i, a, "--web.timeout"))) {
            o->web.timeout = v;
        } else if ((v = flag_value(argc, argv, &i, a, "--web.read-header-timeout"))) {
            o->web.header_timeout = v;
        } else if ((v = flag_value(argc, argv, &i, a, "--path.rootfs"))) {
            o->rootfs = v;
        } else if ((v = flag_value(argc, argv, &i, a, "--path.procfs"))) {
            o->procfs = v;
        } else if ((v = flag_value(argc, argv, &i, a, "--path.sysfs"))) {
            o->sysfs = v;
        } else if ((v = flag_value(argc, argv, &i, a, "--runas.user"))) {
            o->runas_user = v;
        } else if ((v = flag_value(argc, argv, &i, a, "--log.level"))) {
            o->log_level = v;
        } else if ((v = flag_value(argc, argv, &i, a, "--log.format"))) {
            o->log_format = v;
        } else if ((v = flag_value(argc, argv, &i, a, "--collection.interval"))) {
            add_override(o, "global.collection_interval", v, "--collection.interval");
        } else if (!strncmp(a, "--no-collector.", 15) || !strncmp(a, "--collector.", 12)) {
            bool off = a[2] == 'n';
            const char *name = a + (off ? 15 : 12);
            const char *eq = strchr(name, '=');
            const char *dot = strchr(name, '.');
            char path[160];
            if (dot && (!eq || dot < eq)) {
                /* --collector.NAME.OPTION=VALUE */
                size_t nl = (size_t)(dot - name);
                const char *opt = dot + 1;
                size_t ol = eq ? (size_t)(eq - opt) : strlen(opt);
                const char *val = eq ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
                if (off || !val || nl == 0 || ol == 0) {
                    fprintf(stderr, "hakari: flag %s needs a value (--collector.NAME.OPTION=V)\n", a);
                    return -EINVAL;
                }
                snprintf(path, sizeof(path), "collectors.%.*s.%.*s", (int)nl, name, (int)ol, opt);
                add_override(o, path, val, a);
            } else {
                if (eq) {
                    fprintf(stderr, "hakari: flag %s takes no value\n", a);
                    return -EINVAL;
                }
                if (!hk_collector_find(name)) {
                    fprintf(stderr, "hakari: unknown collector in %s (see --help)\n", a);
                    return -EINVAL;
                }
                snprintf(path, sizeof(path), "collectors.%s.enabled", name);
                add_override(o, path, off ? "false" : "true", a);
            }
        } else {
            fprintf(stderr, "hakari: unknown flag %s (see --help)\n", argv[i]);
            return -EINVAL;
        }
    }
    return 0;
}

static volatile sig_atomic_t got_term, got_hup;

static void on_signal(int sig)
{
    if (sig == SIGHUP)
        got_hup = 1;
    else
        got_term = 1;
}

static int load_config(const struct options *o, struct hk_config *cfg, struct hk_error *err)
{
    hk_config_init(cfg);
    return hk_config_load(cfg, o->config_file, o->ov, o->nov, err);
}

static void print_check(const struct hk_config *cfg, const struct options *o)
{
    printf("configuration OK: %s\n", o->config_file ? o->config_file : "(no file, defaults)");
    printf("collection_interval: %.3gs\n", (double)cfg->collection_interval_ms / 1000.0);
    printf("collectors:");
    for (size_t i = 0; hk_collectors[i]; i++)
        if (hk_config_collector_enabled(cfg, i))
            printf(" %s", hk_collectors[i]->name);
    printf("\nexternal_labels:");
    for (size_t i = 0; i < cfg->n_external_labels; i++)
        printf(" %s=\"%s\"", cfg->external_labels[i].name, cfg->external_labels[i].value);
    printf("\ntarget_labels: %s", hk_target_labels_name(cfg->target_labels));
    printf("\nremote_write endpoints: %zu\n", cfg->remote_write ? cfg->remote_write->n : 0);
}

/* glibc's allocator, left alone, keeps what a collection cycle freed: every thread gets its own
 * arena, and the mmap threshold grows with each large block freed, so the per-cycle arrays and
 * arena chunks (megabytes at 100k series) end up in the heap and stay in RSS. A fixed threshold
 * returns them to the kernel when freed, two arenas are plenty for our few threads, and a small
 * trim threshold gives back the top of the heap. A user's own MALLOC_ or GLIBC_TUNABLES settings
 * win. */
static void tune_malloc(void)
{
    if (getenv("GLIBC_TUNABLES") || getenv("MALLOC_ARENA_MAX") || getenv("MALLOC_MMAP_THRESHOLD_"))
        return;
    mallopt(M_ARENA_MAX, 2);
    mallopt(M_MMAP_THRESHOLD, 256 * 1024);
    mallopt(M_TRIM_THRESHOLD, 1024 * 1024);
}

int main(int argc, char **argv)
{
    static struct options o;
    tune_malloc();
    int r = parse_args(argc, argv, &o);
    if (r < 0)
        return 2;
    if (o.help) {
        usage(stdout);
        return 0;
    }
    if (o.version) {
        printf("hakari %s (revision %s)\n", HK_VERSION, HK_REVISION);
        return 0;
    }
    enum hk_log_level level = HK_LOG_INFO;
    enum hk_log_format format = HK_LOG_LOGFMT;
    if (o.log_level && hk_log_parse_level(o.log_level, &level) < 0) {
        fprintf(stderr, "hakari: --log.level must be debug, info, warn or error\n");
        return 2;
    }
    if (o.log_format && hk_log_parse_format(o.log_format, &format) < 0) {
        fprintf(stderr, "hakari: --log.format must be logfmt or json\n");
        return 2;
    }
    hk_log_setup(level, format);

    struct hk_error err = {""};
    struct hk_config *cfg = calloc(1, sizeof(*cfg));
    if (!cfg)
        return 1;
    if ((r = load_config(&o, cfg, &err)) < 0) {
        fprintf(stderr, "hakari: invalid configuration: %s\n", err.msg[0] ? err.msg : strerror(-r));
        hk_config_free(cfg);
        free(cfg);
        return 1;
    }
    if (o.check) {
        r = hk_exporters_check(&o.web, cfg, &err);
        if (r == 0)
            r = hk_privs_check(o.runas_user, &err);
        if (r < 0) {
            fprintf(stderr, "hakari: invalid configuration: %s\n", err.msg);
            hk_config_free(cfg);
            free(cfg);
            return 1;
        }
        print_check(cfg, &o);
        hk_config_free(cfg);
        free(cfg);
        return 0;
    }

    struct hk_paths paths;
    if ((r = hk_paths_open(&paths, o.rootfs, o.procfs, o.sysfs)) < 0) {
        fprintf(stderr, "hakari: --path.rootfs %s: %s\n", o.rootfs ? o.rootfs : "/", strerror(-r));
        hk_config_free(cfg);
        free(cfg);
        return 1;
    }
    struct hk_registry *reg = hk_registry_new();
    struct hk_scheduler *sched = NULL;
    if (!reg || hk_scheduler_new(cfg, &paths, reg, &sched, &err) < 0) {
        fprintf(stderr, "hakari: %s\n", err.msg[0] ? err.msg : "out of memory");
        hk_registry_free(reg);
        hk_paths_close(&paths);
        hk_config_free(cfg);
        free(cfg);
        return 1;
    }

    int status = 0;
    if (o.once) {
        r = hk_scheduler_run_once(sched);
        struct hk_snapshot *snap = hk_registry_acquire(reg);
        struct hk_buf out;
        hk_buf_init(&out, 512u << 20); /* the HTTP server's body cap */
        if (r < 0 || !snap || hk_textfmt_render(snap, HK_TEXTFMT_TEXT, &out) < 0) {
            fprintf(stderr, "hakari: collection failed\n");
            status = 1;
        } else if (fwrite(out.data, 1, out.len, stdout) != out.len || fflush(stdout) != 0) {
            status = 1;
        } else if (o.once_protobuf) {
            hk_buf_reset(&out);
            FILE *pf = NULL;
            if ((r = hk_protofmt_render(snap, (1u << HK_TARGET_COUNT) - 1, &out)) < 0 ||
                !(pf = fopen(o.once_protobuf, "we")) ||
                fwrite(out.data, 1, out.len, pf) != out.len) {
                fprintf(stderr, "hakari: --once.protobuf %s: %s\n", o.once_protobuf,
                        strerror(r < 0 ? -r : errno));
                status = 1;
            }
            if (pf && fclose(pf) != 0)
                status = 1;
        }
        hk_buf_free(&out);
        hk_snapshot_unref(snap);
        goto out;
    }

    struct sigaction sa = {.sa_handler = on_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    /* Block the signals we wait for (threads started below inherit the mask) and wait with
     * sigsuspend: a SIGHUP that lands between the got_* checks and the wait is not lost, as it
     * could be with pause(). */
    sigset_t waitset, oldmask;
    sigemptyset(&waitset);
    sigaddset(&waitset, SIGTERM);
    sigaddset(&waitset, SIGINT);
    sigaddset(&waitset, SIGHUP);
    sigprocmask(SIG_BLOCK, &waitset, &oldmask);

    /* Collectors are initialised (BPF programs loaded, files opened): drop what is no longer
     * needed now, while this is the only thread — capabilities are per thread, and every thread
     * started later (HTTP pool, remote-write senders, scheduler) inherits the reduced set. */
    if ((r = hk_privs_drop(o.runas_user, &err)) < 0) {
        fprintf(stderr, "hakari: %s\n", err.msg[0] ? err.msg : strerror(-r));
        status = 1;
        goto out;
    }
    struct hk_exporters *exp = NULL;
    if ((r = hk_exporters_start(&o.web, cfg, reg, sched, &exp, &err)) < 0) {
        fprintf(stderr, "hakari: %s\n", err.msg[0] ? err.msg : strerror(-r));
        status = 1;
        goto out;
    }
    if ((r = hk_scheduler_start(sched)) < 0) {
        fprintf(stderr, "hakari: cannot start scheduler: %s\n", strerror(-r));
        hk_exporters_stop(exp);
        status = 1;
        goto out;
    }
    hk_log_info("hakari started", "version", HK_VERSION, "listen",
                o.web.listen_address ? o.web.listen_address : ":9810");
    while (!got_term) {
        if (!got_hup)
            sigsuspend(&oldmask);
        if (got_hup) {
            got_hup = 0;
            /* The web config on its own: a bad one keeps the previous one, and does not stand
             * in the way of the main config (nor the other way round). */
            struct hk_error werr = {""};
            int wr = hk_exporters_reload_web(exp, &werr);
            if (wr < 0)
                hk_log_error("web config reload failed, keeping the previous one", "file",
                             o.web.config_file, "err", werr.msg[0] ? werr.msg : strerror(-wr));
            else if (wr > 0)
                hk_log_info("web config reloaded", "file", o.web.config_file);
            struct hk_config *ncfg = calloc(1, sizeof(*ncfg));
            struct hk_error nerr = {""};
            if (!ncfg)
                continue;
            r = load_config(&o, ncfg, &nerr);
            if (r == 0)
                r = hk_scheduler_reconfigure(sched, ncfg, &nerr);
            if (r == 0 && (r = hk_exporters_reconfigure(exp, ncfg, &nerr)) < 0) {
                struct hk_error ignored;
                hk_scheduler_reconfigure(sched, cfg, &ignored); /* back to the old set */
            }
            if (r < 0) {
                hk_log_error("reload failed, keeping the previous configuration", "err",
                             nerr.msg[0] ? nerr.msg : strerror(-r));
                hk_config_free(ncfg);
                free(ncfg);
                continue;
            }
            hk_config_free(cfg);
            free(cfg);
            cfg = ncfg;
            hk_log_info("configuration reloaded", "file", o.config_file ? o.config_file : "");
        }
    }
    hk_log_info("shutting down");
    hk_scheduler_stop(sched);
    hk_exporters_stop(exp);
    hk_log_flush_suppressed(true);

out:
    hk_scheduler_free(sched);
    hk_registry_free(reg);
    hk_paths_close(&paths);
    hk_config_free(cfg);
    free(cfg);
    return status;
}
