/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests of the textfile collector (collector/textfile.c) on real files in a temporary
 * rootfs: whole-file skipping with the error metrics, mtimes, files replaced or rewritten while
 * being read, size caps, a missing or empty directory, no directory; node_exporter's merge of
 * families across files (HELP, TYPE), summary/histogram completion, globs and several
 * directories, the file and directory limits, NUL bytes. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include <cmocka.h>

#include "collector/textfile_internal.h"
#include "core/collector.h"
#include "core/config.h"
#include "core/fsread.h"
#include "core/yaml.h"

extern const struct hk_collector_ops hk_collector_textfile;

struct fx {
    char root[64];
    char dir[96];
    struct hk_paths paths;
    struct hk_config cfg;
    struct hk_yaml_node *opts;
    void *state;
    uint64_t soft_errors;
};

static void write_file(struct fx *f, const char *name, const char *content, time_t mtime)
{
    char path[256];
    snprintf(path, sizeof(path), "%s/%s", f->dir, name);
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fputs(content, fp);
    fclose(fp);
    if (mtime) {
        struct timeval tv[2] = {{mtime, 0}, {mtime, 0}};
        utimes(path, tv);
    }
}

static int start(struct fx *f, const char *yaml)
{
    struct hk_error err = {""};
    if (hk_yaml_parse_string("test", yaml, strlen(yaml), &f->opts, &err) < 0)
        fail_msg("yaml: %s", err.msg);
    struct hk_collector_env env = {&f->paths, &f->cfg, f->opts, &err};
    int r = hk_collector_textfile.check(&env);
    if (r < 0)
        return r;
    r = hk_collector_textfile.init(&f->state, &env);
    if (r < 0)
        fail_msg("init: %s", err.msg);
    return r;
}

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    /* tmpfs when there is one: test_many_directories_and_files makes 20,000 entries, which a
     * busy virtual disk turns into tens of seconds. */
    snprintf(f->root, sizeof(f->root), "%s/hk-textfile-XXXXXX",
             access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
    assert_non_null(mkdtemp(f->root));
    snprintf(f->dir, sizeof(f->dir), "%s/tf", f->root);
    assert_int_equal(mkdir(f->dir, 0755), 0);
    assert_int_equal(hk_paths_open(&f->paths, f->root, NULL, NULL), 0);
    hk_config_init(&f->cfg);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    hk_collector_textfile.fini(f->state);
    hk_yaml_free(f->opts);
    hk_paths_close(&f->paths);
    char cmd[160];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->root);
    assert_int_equal(system(cmd), 0);
    free(f);
    hk_textfile_read_hook = NULL;
    return 0;
}

static struct hk_snapshot *collect(struct fx *f)
{
    struct hk_builder *b = hk_builder_new(&f->cfg.limits);
    hk_builder_begin(b, "textfile");
    struct hk_collect_ctx ctx = {b, &f->paths, 0, 0};
    assert_int_equal(hk_collector_textfile.collect(f->state, &ctx), 0);
    f->soft_errors = ctx.soft_errors;
    hk_builder_commit(b);
    struct hk_snapshot *s = hk_builder_seal(b, 0, NULL);
    assert_non_null(s);
    return s;
}

/* Value of the series name{label=value} (label NULL: any), or NAN when absent. */
static double value_of(const struct hk_snapshot *s, const char *name, const char *lname,
                       const char *lvalue)
{
    for (size_t i = 0; i < s->nseries; i++) {
        const struct hk_series *x = &s->series[i];
        if (strcmp(x->name, name) != 0)
            continue;
        if (!lname)
            return x->value;
        const char *v = hk_labels_get(x->labels, x->nlabels, lname);
        if (v && strcmp(v, lvalue) == 0)
            return x->value;
    }
    return -12345;
}

#define ABSENT -12345

/* Without a directory the collector still runs, as node_exporter's does by default: only
 * node_textfile_scrape_error 0. */
static void test_no_directory(void **state)
{
    struct fx *f = *state;
    assert_int_equal(start(f, "enabled: true\n"), 0);
    struct hk_snapshot *s = collect(f);
    assert_int_equal(s->nseries, 1);
    assert_true(value_of(s, "node_textfile_scrape_error", NULL, NULL) == 0);
    hk_snapshot_unref(s);
}

static void test_options_checked(void **state)
{
    struct fx *f = *state;
    struct hk_error err = {""};
    struct hk_yaml_node *n;
    const char *bad = "directory: /x\nmax_file_sizes: 1\n";
    assert_int_equal(hk_yaml_parse_string("cfg.yml", bad, strlen(bad), &n, &err), 0);
    struct hk_collector_env env = {&f->paths, &f->cfg, n, &err};
    assert_int_equal(hk_collector_textfile.check(&env), -EINVAL);
    assert_non_null(strstr(err.msg, "cfg.yml:2"));
    hk_yaml_free(n);
    bad = "directory: /x\nmax_line_length: 3\n";
    assert_int_equal(hk_yaml_parse_string("cfg.yml", bad, strlen(bad), &n, &err), 0);
    env.options = n;
    assert_int_equal(hk_collector_textfile.check(&env), -EINVAL);
    hk_yaml_free(n);
}

static void test_good_and_bad_files(void **state)
{
    struct fx *f = *state;
    write_file(f, "a.prom",
               "# HELP job_last_success_seconds Last success.\n"
               "# TYPE job_last_success_seconds gauge\n"
               "job_last_success_seconds{job=\"backup\"} 1.7e9\n"
               "untyped_thing{empty=\"\",x=\"1\"} 5\n",
               1700000000);
    /* Three valid lines, then a broken one: nothing of this file may appear. */
    write_file(f, "b.prom", "from_b 1\nfrom_b2 2\nfrom_b3 3\nfrom_b4{oops} 4\n", 1700000100);
    write_file(f, "c.prom", "with_ts 1 1700000000000\n", 1700000200);
    write_file(f, "ignored.txt", "not_read 1\n", 0);
    assert_int_equal(start(f, "directory: /tf\n"), 0);

    struct hk_snapshot *s = collect(f);
    assert_true(value_of(s, "job_last_success_seconds", "job", "backup") == 1.7e9);
    const struct hk_family *fam = hk_snapshot_find_family(s, "job_last_success_seconds");
    assert_string_equal(fam->help, "Last success.");
    assert_int_equal(fam->type, HK_METRIC_GAUGE);
    fam = hk_snapshot_find_family(s, "untyped_thing");
    assert_string_equal(fam->help, "Metric read from /tf/a.prom");
    assert_int_equal(fam->type, HK_METRIC_UNTYPED);
    /* The empty label is dropped (same as absent in Prometheus). */
    assert_int_equal(s->series[fam->first].nlabels, 1);
    assert_true(value_of(s, "from_b", NULL, NULL) == ABSENT);
    assert_true(value_of(s, "from_b3", NULL, NULL) == ABSENT);
    assert_true(value_of(s, "with_ts", NULL, NULL) == ABSENT);
    assert_true(value_of(s, "not_read", NULL, NULL) == ABSENT);
    assert_true(value_of(s, "node_textfile_scrape_error", NULL, NULL) == 1);
    assert_true(value_of(s, "node_textfile_mtime_seconds", "file", "/tf/a.prom") == 1700000000);
    assert_true(value_of(s, "node_textfile_mtime_seconds", "file", "/tf/b.prom") == ABSENT);
    assert_true(value_of(s, "hakari_textfile_errors_total", "file", "/tf/a.prom") == 0);
    assert_true(value_of(s, "hakari_textfile_errors_total", "file", "/tf/b.prom") == 1);
    assert_true(value_of(s, "hakari_textfile_errors_total", "file", "/tf/c.prom") == 1);
    assert_int_equal(f->soft_errors, 0); /* user data errors, not collector errors */
    hk_snapshot_unref(s);

    /* The counter grows per cycle while the file stays broken; fixing it clears the error. */
    s = collect(f);
    assert_true(value_of(s, "hakari_textfile_errors_total", "file", "/tf/b.prom") == 2);
    hk_snapshot_unref(s);
    write_file(f, "b.prom", "from_b 1\n", 1700000300);
    char path[256];
    snprintf(path, sizeof(path), "%s/c.prom", f->dir);
    unlink(path);
    s = collect(f);
    assert_true(value_of(s, "from_b", NULL, NULL) == 1);
    assert_true(value_of(s, "node_textfile_scrape_error", NULL, NULL) == 0);
    assert_true(value_of(s, "node_textfile_mtime_seconds", "file", "/tf/b.prom") == 1700000300);
    assert_true(value_of(s, "hakari_textfile_errors_total", "file", "/tf/b.prom") == 2);
    assert_true(value_of(s, "hakari_textfile_errors_total", "file", "/tf/c.prom") == ABSENT);
    hk_snapshot_unref(s);
}

/* One family with two TYPEs in two files: the later file's series of it are dropped and the
 * scrape reports an error (node_exporter's registry drops them too, without the error). */
static void test_type_conflict_across_files(void **state)
{
    struct fx *f = *state;
    write_file(f, "1.prom", "# TYPE dup gauge\ndup{a=\"x\"} 1\n", 0);
    write_file(f, "2.prom", "# TYPE dup counter\ndup{a=\"x\"} 2\ndup{a=\"y\"} 3\nother 4\n", 0);
    assert_int_equal(start(f, "directory: tf\n"), 0); /* relative to the rootfs too */
    struct hk_snapshot *s = collect(f);
    assert_true(value_of(s, "dup", "a", "x") == 1); /* files in name order, first wins */
    assert_true(value_of(s, "dup", "a", "y") == ABSENT);
    assert_true(value_of(s, "other", NULL, NULL) == 4); /* the file's other families stay */
    assert_int_equal(hk_snapshot_find_family(s, "dup")->type, HK_METRIC_GAUGE);
    assert_int_equal(s->duplicates_dropped, 0);
    assert_true(value_of(s, "node_textfile_scrape_error", NULL, NULL) == 1);
    assert_true(value_of(s, "node_textfile_mtime_seconds", "file", "tf/2.prom") != ABSENT);
    assert_true(value_of(s, "hakari_textfile_errors_total", "file", "tf/2.prom") == 0);
    hk_snapshot_unref(s);
}

static const char *help_of(const struct hk_snapshot *s, const char *family)
{
    const struct hk_family *fam = hk_snapshot_find_family(s, family);
    assert_non_null(fam);
    return fam->help;
}

/* node_exporter's merge of one family given by several files. */
static void test_merge_help(void **state)
{
    struct fx *f = *state;
    write_file(f, "a.prom",
               "# TYPE x counter\nx{f=\"a\"} 1\n"
               "y{f=\"a\"} 1\n"
               "# HELP z Z one.\nz{f=\"a\"} 1\n"
               "# TYPE w gauge\n# HELP w \nw{f=\"a\"} 1\n"
               "# HELP unused Only a HELP, no sample.\n",
               0);
    write_file(f, "b.prom",
               "# TYPE x counter\nx{f=\"b\"} 2\n"
               "# HELP y Y explicit.\ny{f=\"b\"} 2\n"
               "# HELP z Z two.\nz{f=\"b\"} 2\n"
               "# HELP unused Another HELP, no sample either.\n"
               "w{f=\"b\"} 2\n",
               0);
    write_file(f, "c.prom", "# HELP z Z one.\nz{f=\"c\"} 3\n# TYPE w gauge\nw{f=\"c\"} 3\n", 0);
    assert_int_equal(start(f, "directory: /tf/./\n"), 0);
    struct hk_snapshot *s = collect(f);
    /* No HELP anywhere: every file is named, in reading order; labels are cleaned paths. */
    assert_string_equal(help_of(s, "x"), "Metric read from /tf/a.prom, /tf/b.prom");
    assert_true(value_of(s, "x", "f", "a") == 1 && value_of(s, "x", "f", "b") == 2);
    /* An empty HELP is no HELP (expfmt). w in b.prom is untyped: a TYPE conflict. */
    assert_string_equal(help_of(s, "w"), "Metric read from /tf/a.prom, /tf/c.prom");
    assert_true(value_of(s, "w", "f", "b") == ABSENT && value_of(s, "w", "f", "c") == 3);
    /* A HELP in one file and none in the other: the explicit one, every series kept. */
    assert_string_equal(help_of(s, "y"), "Y explicit.");
    assert_true(value_of(s, "y", "f", "a") == 1 && value_of(s, "y", "f", "b") == 2);
    /* Different HELPs: the later file's series are dropped, and so are those of every file
     * after the conflict, even with the first HELP again (as node_exporter). */
    assert_string_equal(help_of(s, "z"), "Z one.");
    assert_true(value_of(s, "z", "f", "a") == 1);
    assert_true(value_of(s, "z", "f", "b") == ABSENT);
    assert_true(value_of(s, "z", "f", "c") == ABSENT);
    assert_null(hk_snapshot_find_family(s, "unused"));
    assert_true(value_of(s, "node_textfile_scrape_error", NULL, NULL) == 1);
    for (const char *const *p = (const char *const[]){"/tf/a.prom", "/tf/b.prom", "/tf/c.prom",
                                                       NULL};
         *p; p++) {
        assert_true(value_of(s, "node_textfile_mtime_seconds", "file", *p) != ABSENT);
        assert_true(value_of(s, "hakari_textfile_errors_total", "file", *p) == 0);
    }
    hk_snapshot_unref(s);

    /* Consistent again: no error, and the merge starts afresh each cycle. */
    write_file(f, "b.prom", "# TYPE x counter\nx{f=\"b\"} 2\n", 0);
    char path[256];
    snprintf(path, sizeof(path), "%s/c.prom", f->dir);
    unlink(path);
    s = collect(f);
    assert_true(value_of(s, "node_textfile_scrape_error", NULL, NULL) == 0);
    assert_string_equal(help_of(s, "z"), "Z one.");
    assert_string_equal(help_of(s, "y"), "Metric read from /tf/a.prom");
    hk_snapshot_unref(s);
}

/* What node_exporter's const summaries and histograms always have: _sum and _count per series
 * group (0 when absent), and a histogram's le="+Inf" bucket (= _count). */
static void test_summary_histogram_completion(void **state)
{
    struct fx *f = *state;
    write_file(f, "s.prom",
               "# TYPE q summary\n"
               "q{a=\"1\",quantile=\"0.5\"} 5\n"
               "q{quantile=\"0.9\",a=\"1\"} 9\n"
               "q_sum{a=\"2\"} 20\n"
               "q{a=\"2\",quantile=\"0.5\"} 6\n"
               "q{a=\"3\",quantile=\"0.5\"} 7\n"
               "q_sum{a=\"3\"} 30\n"
               "q_count{a=\"3\"} 3\n"
               "# TYPE h histogram\n"
               "h_bucket{b=\"1\",le=\"1\"} 1\n"
               "h_bucket{b=\"1\",le=\"2\"} 2\n"
               "h_bucket{b=\"2\",le=\"1\"} 4\n"
               "h_count{b=\"2\"} 6\n"
               "h_bucket{b=\"3\",le=\"+Inf\"} 8\n"
               "h_sum{b=\"3\"} 1.5\n"
               "h_count{b=\"3\"} 8\n",
               0);
    assert_int_equal(start(f, "directory: /tf\n"), 0);
    struct hk_snapshot *s = collect(f);
    assert_true(value_of(s, "q_sum", "a", "1") == 0);
    assert_true(value_of(s, "q_count", "a", "1") == 0);
    assert_true(value_of(s, "q_sum", "a", "2") == 20);
    assert_true(value_of(s, "q_count", "a", "2") == 0);
    assert_true(value_of(s, "q_sum", "a", "3") == 30);
    assert_true(value_of(s, "q_count", "a", "3") == 3);
    assert_int_equal(hk_snapshot_find_family(s, "q")->count, 4 + 2 * 3);
    /* h{b="1"}: no _count, so +Inf and _count are 0; b="2": +Inf = _count. */
    const struct hk_family *h = hk_snapshot_find_family(s, "h");
    assert_int_equal(h->count, 3 + 3 + 3 + 3);
    int inf = 0;
    for (uint32_t i = h->first; i < h->first + h->count; i++) {
        const struct hk_series *x = &s->series[i];
        const char *le = hk_labels_get(x->labels, x->nlabels, "le");
        const char *b = hk_labels_get(x->labels, x->nlabels, "b");
        if (!le || strcmp(le, "+Inf") != 0)
            continue;
        inf++;
        assert_true(x->value == (strcmp(b, "1") == 0 ? 0 : strcmp(b, "2") == 0 ? 6 : 8));
    }
    assert_int_equal(inf, 3);
    assert_true(value_of(s, "h_sum", "b", "1") == 0 && value_of(s, "h_count", "b", "1") == 0);
    assert_true(value_of(s, "h_sum", "b", "2") == 0 && value_of(s, "h_count", "b", "2") == 6);
    assert_true(value_of(s, "h_sum", "b", "3") == 1.5);
    assert_int_equal(s->duplicates_dropped, 0);
    assert_true(value_of(s, "node_textfile_scrape_error", NULL, NULL) == 0);
    hk_snapshot_unref(s);
}

static void mkdirf(struct fx *f, const char *rel)
{
    char path[256];
    snprintf(path, sizeof(path), "%s/%s", f->root, rel);
    assert_int_equal(mkdir(path, 0755), 0);
}

static void write_at(struct fx *f, const char *rel, const char *content)
{
    char path[256];
    snprintf(path, sizeof(path), "%s/%s", f->root, rel);
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fputs(content, fp);
    fclose(fp);
}

/* Several directories, each a glob; matches in name order; a pattern matching nothing is read
 * as a directory of that name (an error when there is none); one directory twice is read once. */
static void test_globs(void **state)
{
    struct fx *f = *state;
    mkdirf(f, "g");
    mkdirf(f, "g/d2");
    mkdirf(f, "g/d1");
    mkdirf(f, "g/e1");
    write_at(f, "g/d1/a.prom", "from_d1 1\n");
    write_at(f, "g/d2/a.prom", "from_d2 2\n");
    write_at(f, "g/e1/a.prom", "from_e1 3\n");
    assert_int_equal(start(f, "directory: [\"/g/d*\", \"/g/d1/\", \"g//e?\"]\n"), 0);
    struct hk_snapshot *s = collect(f);
    assert_true(value_of(s, "from_d1", NULL, NULL) == 1);
    assert_true(value_of(s, "from_d2", NULL, NULL) == 2);
    assert_true(value_of(s, "from_e1", NULL, NULL) == 3);
    assert_true(value_of(s, "node_textfile_mtime_seconds", "file", "/g/d1/a.prom") != ABSENT);
    assert_true(value_of(s, "node_textfile_mtime_seconds", "file", "/g/d2/a.prom") != ABSENT);
    assert_true(value_of(s, "node_textfile_mtime_seconds", "file", "g/e1/a.prom") != ABSENT);
    assert_int_equal(s->duplicates_dropped, 0);
    assert_true(value_of(s, "node_textfile_scrape_error", NULL, NULL) == 0);
    assert_int_equal(hk_snapshot_find_family(s, "node_textfile_mtime_seconds")->count, 3);
    hk_snapshot_unref(s);
    hk_collector_textfile.fini(f->state);
    hk_yaml_free(f->opts);
    f->state = NULL;
    f->opts = NULL;

    /* No match: the pattern itself, which is no directory: an error. */
    assert_int_equal(start(f, "directory: [\"/g/x*\", \"/g/d1\"]\n"), 0);
    s = collect(f);
    assert_true(value_of(s, "from_d1", NULL, NULL) == 1);
    assert_true(value_of(s, "node_textfile_scrape_error", NULL, NULL) == 1);
    hk_snapshot_unref(s);
}

/* A glob matching 10,000 directories and a directory of 10,000 files: the limits hold, the rest
 * is counted and the scrape reports an error. */
static void test_many_directories_and_files(void **state)
{
    struct fx *f = *state;
    char rel[64];
    mkdirf(f, "many");
    for (int i = 0; i < 10000; i++) {
        snprintf(rel, sizeof(rel), "many/d%05d", i);
        mkdirf(f, rel);
    }
    write_at(f, "many/d00000/first.prom", "first 1\n");
    write_at(f, "many/d09999/last.prom", "last 1\n");
    for (int i = 0; i < 10000; i++) {
        snprintf(rel, sizeof(rel), "tf/f%05d.prom", i);
        write_at(f, rel, "");
    }
    assert_int_equal(start(f, "directory: [/many/*, /tf]\nmax_files: 100\n"), 0);
    struct hk_snapshot *s = collect(f);
    assert_true(value_of(s, "first", NULL, NULL) == 1); /* the first 1000 in name order */
    assert_true(value_of(s, "last", NULL, NULL) == ABSENT);
    /* 9,000 of the glob's and /tf, which comes after them. */
    assert_true(value_of(s, "hakari_textfile_limit_skips_total", "limit", "max_directories") ==
                9001);
    assert_true(value_of(s, "hakari_textfile_limit_skips_total", "limit", "max_files") == 0);
    assert_true(value_of(s, "node_textfile_scrape_error", NULL, NULL) == 1);
    hk_snapshot_unref(s);
    hk_collector_textfile.fini(f->state);
    hk_yaml_free(f->opts);
    f->state = NULL;
    f->opts = NULL;

    assert_int_equal(start(f, "directory: /tf\nmax_files: 100\n"), 0);
    s = collect(f);
    assert_true(value_of(s, "hakari_textfile_limit_skips_total", "limit", "max_files") == 9900);
    assert_int_equal(hk_snapshot_find_family(s, "node_textfile_mtime_seconds")->count, 100);
    assert_true(value_of(s, "node_textfile_scrape_error", NULL, NULL) == 1);
    hk_snapshot_unref(s);
    s = collect(f); /* counted again each cycle */
    assert_true(value_of(s, "hakari_textfile_limit_skips_total", "limit", "max_files") == 19800);
    hk_snapshot_unref(s);
}

/* "Metric read from" naming thousands of files stops at 32KiB and says how many it left out. */
static void test_merged_help_cap(void **state)
{
    struct fx *f = *state;
    char rel[64], body[64];
    for (int i = 0; i < 2500; i++) {
        snprintf(rel, sizeof(rel), "tf/f%05d.prom", i);
        snprintf(body, sizeof(body), "shared{i=\"%d\"} %d\n", i, i);
        write_at(f, rel, body);
    }
    assert_int_equal(start(f, "directory: /tf\nmax_files: 3000\n"), 0);
    struct hk_snapshot *s = collect(f);
    const struct hk_family *fam = hk_snapshot_find_family(s, "shared");
    assert_int_equal(fam->count, 2500);
    const char *help = fam->help;
    assert_true(strncmp(help, "Metric read from /tf/f00000.prom, /tf/f00001.prom, ", 50) == 0);
    size_t len = strlen(help);
    assert_true(len > 32 * 1024 - 100 && len < 32 * 1024 + 100);
    /* 17 bytes per name ("/tf/fNNNNN.prom, "): about 1927 named, the rest counted. */
    const char *more = strstr(help, " and ");
    assert_non_null(more);
    unsigned named = 0, rest = 0;
    for (const char *p = help; (p = strstr(p, ".prom")); p++)
        named++;
    assert_int_equal(sscanf(more, " and %u more files", &rest), 1);
    assert_int_equal(named + rest, 2500);
    assert_string_equal(help + len - 11, " more files");
    hk_snapshot_unref(s);
}

/* NUL bytes cannot be carried by hakari's strings: such a file is refused whole, with the line;
 * a file larger than max_file_size is refused without being read. */
static void test_hostile_bytes(void **state)
{
    struct fx *f = *state;
    char path[256];
    snprintf(path, sizeof(path), "%s/nul.prom", f->dir);
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    static const char nul[] = "ok 1\nbad{a=\"x\0y\"} 2\n";
    fwrite(nul, 1, sizeof(nul) - 1, fp);
    fclose(fp);
    snprintf(path, sizeof(path), "%s/nulhelp.prom", f->dir);
    fp = fopen(path, "w");
    assert_non_null(fp);
    static const char nulhelp[] = "# HELP h a\0b\nh 1\n";
    fwrite(nulhelp, 1, sizeof(nulhelp) - 1, fp);
    fclose(fp);
    snprintf(path, sizeof(path), "%s/nulcomment.prom", f->dir);
    fp = fopen(path, "w");
    assert_non_null(fp);
    static const char nulcomment[] = "# just \0 a comment\nc 1\n";
    fwrite(nulcomment, 1, sizeof(nulcomment) - 1, fp);
    fclose(fp);
    snprintf(path, sizeof(path), "%s/huge.prom", f->dir);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_true(fd >= 0);
    assert_int_equal(ftruncate(fd, (off_t)65 << 20), 0); /* sparse: over the 64MiB default */
    close(fd);
    assert_int_equal(start(f, "directory: /tf\n"), 0);
    struct hk_snapshot *s = collect(f);
    assert_true(value_of(s, "ok", NULL, NULL) == ABSENT);
    assert_true(value_of(s, "h", NULL, NULL) == ABSENT);
    assert_true(value_of(s, "c", NULL, NULL) == 1);
    assert_true(value_of(s, "hakari_textfile_errors_total", "file", "/tf/nul.prom") == 1);
    assert_true(value_of(s, "hakari_textfile_errors_total", "file", "/tf/nulhelp.prom") == 1);
    assert_true(value_of(s, "hakari_textfile_errors_total", "file", "/tf/huge.prom") == 1);
    assert_true(value_of(s, "node_textfile_scrape_error", NULL, NULL) == 1);
    hk_snapshot_unref(s);
}

static int hook_calls;
static const char *hook_mode;

/* Simulates a writer acting while the collector reads. */
static void hook(int dirfd, const char *name, int attempt)
{
    hook_calls++;
    if (strcmp(hook_mode, "rename") == 0 && attempt == 0) {
        /* The atomic way: write a new file and rename it over the old one. */
        int fd = openat(dirfd, "tmp.new", O_WRONLY | O_CREAT | O_TRUNC, 0644);
        assert_true(fd >= 0);
        const char *c = "swapped 2\n";
        assert_int_equal(write(fd, c, strlen(c)), (ssize_t)strlen(c));
        close(fd);
        assert_int_equal(renameat(dirfd, "tmp.new", dirfd, name), 0);
    } else if (strcmp(hook_mode, "inplace-once") == 0 && attempt == 0) {
        /* The unsafe way: truncate and rewrite the same inode. */
        int fd = openat(dirfd, name, O_WRONLY | O_TRUNC);
        assert_true(fd >= 0);
        const char *c = "rewritten 3\nrewritten_more 4\n";
        assert_int_equal(write(fd, c, strlen(c)), (ssize_t)strlen(c));
        close(fd);
    } else if (strcmp(hook_mode, "inplace-always") == 0) {
        int fd = openat(dirfd, name, O_WRONLY | O_APPEND);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, "more 1\n", 7), 7);
        close(fd);
    }
}

static void test_replaced_during_read(void **state)
{
    struct fx *f = *state;
    write_file(f, "r.prom", "original 1\n", 0);
    assert_int_equal(start(f, "directory: /tf\n"), 0);
    hk_textfile_read_hook = hook;
    hook_mode = "rename";
    hook_calls = 0;
    struct hk_snapshot *s = collect(f);
    assert_int_equal(hook_calls, 2); /* read, saw the new inode, read again */
    assert_true(value_of(s, "swapped", NULL, NULL) == 2);
    assert_true(value_of(s, "original", NULL, NULL) == ABSENT);
    assert_true(value_of(s, "node_textfile_scrape_error", NULL, NULL) == 0);
    hk_snapshot_unref(s);
}

static void test_rewritten_during_read(void **state)
{
    struct fx *f = *state;
    write_file(f, "w.prom", "original 1\n", 0);
    assert_int_equal(start(f, "directory: /tf\n"), 0);
    hk_textfile_read_hook = hook;
    hook_mode = "inplace-once";
    hook_calls = 0;
    struct hk_snapshot *s = collect(f);
    assert_int_equal(hook_calls, 2);
    assert_true(value_of(s, "original", NULL, NULL) == ABSENT);
    assert_true(value_of(s, "rewritten", NULL, NULL) == 3);
    assert_true(value_of(s, "rewritten_more", NULL, NULL) == 4);
    hk_snapshot_unref(s);

    /* A file that changes during both reads is skipped, not half-read. */
    write_file(f, "w.prom", "original 1\n", 0);
    hook_mode = "inplace-always";
    s = collect(f);
    assert_true(value_of(s, "original", NULL, NULL) == ABSENT);
    assert_true(value_of(s, "more", NULL, NULL) == ABSENT);
    assert_true(value_of(s, "node_textfile_scrape_error", NULL, NULL) == 1);
    assert_true(value_of(s, "hakari_textfile_errors_total", "file", "/tf/w.prom") == 1);
    hk_snapshot_unref(s);
}

static void test_limits(void **state)
{
    struct fx *f = *state;
    char big[3000];
    size_t o = 0;
    for (int i = 0; i < 100; i++)
        o += (size_t)snprintf(big + o, sizeof(big) - o, "s{i=\"%d\"} %d\n", i, i);
    write_file(f, "big.prom", big, 0);
    write_file(f, "long.prom", "x{a=\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"} 1\n", 0);
    write_file(f, "small.prom", "small 1\n", 0);
    assert_int_equal(start(f, "directory: /tf\nmax_file_size: 1KB\nmax_line_length: 32\n"), 0);
    struct hk_snapshot *s = collect(f);
    assert_true(value_of(s, "small", NULL, NULL) == 1);
    assert_true(value_of(s, "s", NULL, NULL) == ABSENT); /* > 2KB: skipped */
    assert_true(value_of(s, "x", NULL, NULL) == ABSENT); /* line > 32 bytes: skipped */
    assert_true(value_of(s, "hakari_textfile_errors_total", "file", "/tf/big.prom") == 1);
    assert_true(value_of(s, "hakari_textfile_errors_total", "file", "/tf/long.prom") == 1);
    hk_snapshot_unref(s);
}

static void test_series_cap(void **state)
{
    struct fx *f = *state;
    char big[3000];
    size_t o = 0;
    for (int i = 0; i < 100; i++)
        o += (size_t)snprintf(big + o, sizeof(big) - o, "s{i=\"%d\"} %d\n", i, i);
    write_file(f, "a.prom", "a 1\nb 2\n", 0);
    write_file(f, "big.prom", big, 0);
    f->cfg.limits.max_series = 50;
    assert_int_equal(start(f, "directory: /tf\n"), 0);
    struct hk_snapshot *s = collect(f);
    /* A file with more samples than limits.max_series is refused whole. */
    assert_true(value_of(s, "a", NULL, NULL) == 1);
    assert_true(value_of(s, "s", NULL, NULL) == ABSENT);
    assert_true(value_of(s, "hakari_textfile_errors_total", "file", "/tf/big.prom") == 1);
    hk_snapshot_unref(s);
}

static void remove_hook(int dirfd, const char *name, int attempt)
{
    (void)name;
    (void)attempt;
    unlinkat(dirfd, "gone.prom", 0);
}

/* A file deleted between the directory listing and its turn is not an error. */
static void test_vanished_file(void **state)
{
    struct fx *f = *state;
    write_file(f, "a.prom", "a 1\n", 0);
    write_file(f, "gone.prom", "gone 1\n", 0);
    assert_int_equal(start(f, "directory: /tf\n"), 0);
    hk_textfile_read_hook = remove_hook; /* runs after a.prom is read, before gone.prom */
    struct hk_snapshot *s = collect(f);
    assert_true(value_of(s, "a", NULL, NULL) == 1);
    assert_true(value_of(s, "gone", NULL, NULL) == ABSENT);
    assert_true(value_of(s, "node_textfile_scrape_error", NULL, NULL) == 0);
    assert_true(value_of(s, "node_textfile_mtime_seconds", "file", "/tf/gone.prom") == ABSENT);
    hk_snapshot_unref(s);
}

static void test_missing_directory(void **state)
{
    struct fx *f = *state;
    assert_int_equal(start(f, "directory: /does/not/exist\n"), 0);
    struct hk_snapshot *s = collect(f);
    assert_true(value_of(s, "node_textfile_scrape_error", NULL, NULL) == 1);
    assert_int_equal(f->soft_errors, 0);
    hk_snapshot_unref(s);
}

/* A directory without any *.prom file (the usual state before anything drops one in) is a clean
 * scrape: no error, no file series. The empty name list used to reach qsort(NULL, 0, …), which
 * UBSan (unit tests) reports as a null argument declared nonnull. */
static void test_empty_directory(void **state)
{
    struct fx *f = *state;
    write_file(f, "notes.txt", "not a textfile\n", 0);
    assert_int_equal(start(f, "directory: /tf\n"), 0);
    struct hk_snapshot *s = collect(f);
    assert_true(value_of(s, "node_textfile_scrape_error", NULL, NULL) == 0);
    assert_true(value_of(s, "node_textfile_mtime_seconds", NULL, NULL) == ABSENT);
    assert_int_equal(f->soft_errors, 0);
    hk_snapshot_unref(s);
}

static void test_not_a_regular_file(void **state)
{
    struct fx *f = *state;
    char path[256];
    snprintf(path, sizeof(path), "%s/dir.prom", f->dir);
    assert_int_equal(mkdir(path, 0755), 0);
    write_file(f, "ok.prom", "ok 1\n", 0);
    assert_int_equal(start(f, "directory: /tf\n"), 0);
    struct hk_snapshot *s = collect(f);
    assert_true(value_of(s, "ok", NULL, NULL) == 1);
    assert_true(value_of(s, "hakari_textfile_errors_total", "file", "/tf/dir.prom") == 1);
    hk_snapshot_unref(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_no_directory, setup, teardown),
        cmocka_unit_test_setup_teardown(test_options_checked, setup, teardown),
        cmocka_unit_test_setup_teardown(test_good_and_bad_files, setup, teardown),
        cmocka_unit_test_setup_teardown(test_type_conflict_across_files, setup, teardown),
        cmocka_unit_test_setup_teardown(test_merge_help, setup, teardown),
        cmocka_unit_test_setup_teardown(test_summary_histogram_completion, setup, teardown),
        cmocka_unit_test_setup_teardown(test_globs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_many_directories_and_files, setup, teardown),
        cmocka_unit_test_setup_teardown(test_merged_help_cap, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hostile_bytes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_replaced_during_read, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rewritten_during_read, setup, teardown),
        cmocka_unit_test_setup_teardown(test_limits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_series_cap, setup, teardown),
        cmocka_unit_test_setup_teardown(test_vanished_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing_directory, setup, teardown),
        cmocka_unit_test_setup_teardown(test_not_a_regular_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_empty_directory, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
