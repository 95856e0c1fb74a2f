/* SPDX-License-Identifier: Apache-2.0 */
/* hakari's side of the Go-regexp differential check: reads cases (hex regex, value, template),
 * runs a replace rule {source_labels: [v], regex, target_label: out, replacement: "<tmpl>"} and
 * prints E / N / M<hex expansion> like oracle.go. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/yaml.h"
#include "exporter/relabel.h"

static char *unhex(const char *s)
{
    size_t n = strcmp(s, "-") == 0 ? 0 : strlen(s) / 2;
    char *o = malloc(n + 1);
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        sscanf(s + 2 * i, "%2x", &v);
        o[i] = (char)v;
    }
    o[n] = '\0';
    return o;
}

static void scalar(struct hk_yaml_node *n, char *text)
{
    memset(n, 0, sizeof(*n));
    n->kind = HK_YAML_SCALAR;
    n->file = "oracle";
    n->scalar = text;
}

int main(void)
{
    static char line[1 << 20];
    hk_log_setup(HK_LOG_ERROR, HK_LOG_LOGFMT);
    struct hk_relabel_result out = {0};
    while (fgets(line, sizeof(line), stdin)) {
        char hr[1 << 18], hv[4096], ht[4096];
        if (sscanf(line, "%262143s %4095s %4095s", hr, hv, ht) != 3)
            continue;
        char *re = unhex(hr), *val = unhex(hv), *t = unhex(ht);
        size_t tl = strlen(t);
        char *rep = malloc(tl + 3);
        rep[0] = '<';
        memcpy(rep + 1, t, tl);
        rep[tl + 1] = '>';
        rep[tl + 2] = '\0';
        static char k_src[] = "source_labels", k_re[] = "regex", k_tgt[] = "target_label",
                    k_rep[] = "replacement", s_v[] = "v", s_out[] = "out";
        struct hk_yaml_node keys[4], vals[4], src, *kp[4], *vp[4], *sp[1], item, list, *items[1];
        scalar(&keys[0], k_src);
        scalar(&src, s_v);
        sp[0] = &src;
        memset(&vals[0], 0, sizeof(vals[0]));
        vals[0].kind = HK_YAML_SEQ;
        vals[0].n = 1;
        vals[0].items = sp;
        scalar(&keys[1], k_re);
        scalar(&vals[1], re);
        scalar(&keys[2], k_tgt);
        scalar(&vals[2], s_out);
        scalar(&keys[3], k_rep);
        scalar(&vals[3], rep);
        for (int i = 0; i < 4; i++) {
            kp[i] = &keys[i];
            vp[i] = &vals[i];
        }
        memset(&item, 0, sizeof(item));
        item.kind = HK_YAML_MAP;
        item.n = 4;
        item.keys = kp;
        item.items = vp;
        items[0] = &item;
        memset(&list, 0, sizeof(list));
        list.kind = HK_YAML_SEQ;
        list.n = 1;
        list.items = items;
        struct hk_relabel_rules *rules = NULL;
        struct hk_error err;
        char status[1 << 13];
        if (hk_relabel_parse(&list, &rules, &err) < 0) {
            snprintf(status, sizeof(status), "E");
            if (getenv("ORACLE_VERBOSE"))
                fprintf(stderr, "%s\n", err.msg);
        } else {
            struct hk_label in[] = {{"v", val}};
            int r = hk_relabel_apply(rules, in, 1, &out);
            const char *o = r == 1 ? hk_labels_get(out.labels, out.n, "out") : NULL;
            if (!o) {
                snprintf(status, sizeof(status), "N");
            } else {
                size_t n = strlen(o);
                size_t w = (size_t)snprintf(status, sizeof(status), "M");
                for (size_t i = 1; i + 1 < n && w + 3 < sizeof(status); i++)
                    w += (size_t)snprintf(status + w, sizeof(status) - w, "%02x",
                                          (unsigned char)o[i]);
            }
            hk_relabel_free(rules);
        }
        line[strcspn(line, "\n")] = '\0';
        printf("%s %s\n", line, status);
        free(re);
        free(val);
        free(t);
        free(rep);
    }
    hk_relabel_result_free(&out);
    return 0;
}
