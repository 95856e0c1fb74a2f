/* SPDX-License-Identifier: Apache-2.0 */
/* Test tool: builds one snapshot from a file of label values through the real builder
 * (hk_emit_labels), publishes it in a registry and serves it with the real hk_http until SIGTERM.
 * Used by tests/integration/hostile.sh (hostile label values) and webconfig.sh (TLS, basic auth).
 *
 * usage: serve_snapshot --listen=ADDR [--cases=FILE] [--web.config.file=FILE]
 * FILE: one case per line, "<case-name> <value as hex>"; each becomes
 * hostile_value{case="<case-name>",v="<value>"} <line number>. Prints "ready" once serving. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/snapshot.h"
#include "exporter/http.h"

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Decodes hex in place; returns the byte length or -EINVAL. */
static long unhex(char *s)
{
    size_t n = strlen(s), o = 0;
    if (n % 2)
        return -EINVAL;
    for (size_t i = 0; i < n; i += 2) {
        int hi = hexval((unsigned char)s[i]), lo = hexval((unsigned char)s[i + 1]);
        if (hi < 0 || lo < 0)
            return -EINVAL;
        s[o++] = (char)(hi * 16 + lo);
    }
    s[o] = '\0';
    return (long)o;
}

static int emit_cases(struct hk_builder *b, const char *path)
{
    static const struct hk_family_spec fam = {
        "hostile_value", "Label values that need escaping: \\ backslash, \"quotes\",\nnewline.",
        HK_METRIC_GAUGE, ""};
    FILE *f = fopen(path, "re");
    if (!f)
        return -errno;
    size_t cap = 1 << 20;
    char *line = malloc(cap);
    int r = 0;
    unsigned lineno = 0;
    while (line && fgets(line, (int)cap, f)) {
        lineno++;
        line[strcspn(line, "\n")] = '\0';
        char *sp = strchr(line, ' ');
        if (!sp) {
            r = -EINVAL;
            break;
        }
        *sp = '\0';
        char *val = sp + 1;
        long len = unhex(val);
        if (len < 0 || (size_t)len != strlen(val)) { /* embedded NUL cannot be a C label value */
            r = -EINVAL;
            break;
        }
        struct hk_label l[] = {{"v", val}, {"case", line}};
        if ((r = hk_emit_labels(b, &fam, NULL, l, 2, lineno, 0)) < 0)
            break;
    }
    if (!line)
        r = -ENOMEM;
    free(line);
    fclose(f);
    return r;
}

static volatile sig_atomic_t stop;
static void on_term(int sig)
{
    (void)sig;
    stop = 1;
}

int main(int argc, char **argv)
{
    struct hk_http_options opt = {0};
    const char *cases = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strncmp(argv[i], "--listen=", 9))
            opt.listen_address = argv[i] + 9;
        else if (!strncmp(argv[i], "--cases=", 8))
            cases = argv[i] + 8;
        else if (!strncmp(argv[i], "--web.config.file=", 18))
            opt.web_config_file = argv[i] + 18;
        else {
            fprintf(stderr, "serve_snapshot: unknown argument %s\n", argv[i]);
            return 2;
        }
    }
    if (!opt.listen_address) {
        fprintf(stderr, "serve_snapshot: --listen=ADDR is required\n");
        return 2;
    }
    struct hk_builder *b = hk_builder_new(NULL); /* no caps: values arrive whole */
    if (!b)
        return 1;
    hk_builder_begin(b, "serve_snapshot");
    static const struct hk_metric_desc up = {"serve_snapshot_up", "Always 1.", HK_METRIC_GAUGE,
                                             "", NULL};
    hk_emit(b, &up, NULL, 1);
    if (cases) {
        int r = emit_cases(b, cases);
        if (r < 0) {
            fprintf(stderr, "serve_snapshot: %s: %s\n", cases, strerror(-r));
            hk_builder_free(b);
            return 1;
        }
    }
    hk_builder_commit(b);
    struct hk_registry *reg = hk_registry_new();
    struct hk_snapshot *snap = hk_builder_seal(b, 0, NULL);
    if (!reg || !snap)
        return 1;
    hk_registry_publish(reg, snap);

    struct sigaction sa = {.sa_handler = on_term};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    struct hk_error err = {""};
    struct hk_http *h = NULL;
    if (hk_http_start(&opt, reg, &h, &err) < 0) {
        fprintf(stderr, "serve_snapshot: %s\n", err.msg);
        hk_registry_free(reg);
        return 1;
    }
    printf("ready port=%u\n", hk_http_port(h));
    fflush(stdout);
    while (!stop)
        pause();
    hk_http_stop(h);
    hk_registry_free(reg);
    return 0;
}
