/* SPDX-License-Identifier: Apache-2.0 */
/* node_exporter's textfile collector: batch jobs and cron scripts drop *.prom files (Prometheus
 * text format 0.0.4) into directories; each cycle every file is read whole, checked for changes
 * during the read, parsed, and either emitted entirely or skipped entirely. Families that several
 * files give are merged as node_exporter merges them (node_exporter's collector/textfile.go and
 * its fixtures/textfile cases are the reference, tests/integration/textfile_upstream.sh):
 *  - each configured directory is a glob (*, ?, [..]); the matches, in name order, are read; a
 *    pattern that matches nothing is read as a plain directory (and fails if there is none);
 *  - a family without HELP in every file gets "Metric read from <file>, <file>…" naming each
 *    file that gave it; two files giving one family different HELP is an error: the later file's
 *    series of that family are dropped and node_textfile_scrape_error is 1;
 *  - a summary or histogram series group without _sum/_count gets them (0), a histogram without
 *    a le="+Inf" bucket gets one (= _count), as node_exporter's const summaries/histograms do;
 *  - node_textfile_scrape_error is emitted whenever the collector runs, directory set or not.
 * Differences, on purpose (docs/configuration.md): an explicit HELP in one file and none in
 * another is no conflict (the explicit one is the family's; node_exporter's registry drops the
 * later file's series without an error); two files giving one family different TYPEs drop the
 * later file's series and set node_textfile_scrape_error (node_exporter's registry drops them
 * without it); empty-valued labels are dropped (same series in Prometheus; node_exporter fills a
 * family's missing labels with ""); NUL bytes in a label value or HELP make the file invalid.
 * Reads: <rootfs>/<collectors.textfile.directory>/NAME.prom for each directory (glob) configured
 * (absolute or relative, resolved under --path.rootfs like every other host path; with the
 * default rootfs / a relative path is relative to /).
 * Emits: the files' families, node_textfile_mtime_seconds{file}, node_textfile_scrape_error,
 * hakari_textfile_errors_total{file}, hakari_textfile_limit_skips_total{limit},
 * hakari_textfile_families_refused_total. The file label is
 * the configured directory (or glob match) joined with the file name and cleaned lexically, as
 * node_exporter's filepath.Join does. Skipped files are user data errors, reported by the
 * metrics above; like node_exporter (node_scrape_collector_success stays 1) they do not count as
 * collector errors in hakari_collector_errors_total.
 * Over 800 lines because globbing, stable reads, node_exporter's merge rules and emission share the
 * per-cycle merge tables. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "collector/promtext.h"
#include "collector/textfile_internal.h"
#include "core/arena.h"
#include "core/collector.h"
#include "core/config.h"
#include "core/log.h"

#define DEFAULT_MAX_FILE_BYTES (64u << 20)
#define DEFAULT_MAX_FILES 1000
#define DEFAULT_MAX_DIRECTORIES 1000
#define MAX_PATTERNS 64
#define MAX_PATH_BYTES 4096
/* Glob matches collected per cycle before sorting and applying max_directories. */
#define MAX_GLOB_SCAN (1u << 20)
/* "Metric read from …" naming many files stops naming them past this length. */
#define MAX_MERGED_HELP (32u << 10)
#define TRIM_BYTES (1u << 20)

static const char *const file_label[] = {"file", NULL};
static const char *const limit_label[] = {"limit", NULL};
static const struct hk_metric_desc desc_mtime = {
    "node_textfile_mtime_seconds", "Unixtime mtime of textfiles successfully read.",
    HK_METRIC_GAUGE, "seconds", file_label};
static const struct hk_metric_desc desc_scrape_error = {
    "node_textfile_scrape_error", "1 if there was an error opening or reading a file, 0 otherwise",
    HK_METRIC_GAUGE, "", NULL};
static const struct hk_metric_desc desc_errors = {
    "hakari_textfile_errors_total",
    "Times a textfile was skipped whole because it could not be read or parsed, per file.",
    HK_METRIC_COUNTER, "", file_label};
static const struct hk_metric_desc desc_refused = {
    "hakari_textfile_families_refused_total",
    "Textfile families refused because the name belongs to hakari (hakari_*, process_*) or to a "
    "family another collector emits, summed over files and cycles.",
    HK_METRIC_COUNTER, "", NULL};
static const struct hk_metric_desc desc_limit_skips = {
    "hakari_textfile_limit_skips_total",
    "Textfiles (limit max_files) or glob-matched directories (limit max_directories) left "
    "unread because the limit was reached, summed over cycles.",
    HK_METRIC_COUNTER, "", limit_label};

struct options {
    char **patterns; /* directories (globs) as configured; none = no textfiles */
    size_t npatterns;
    uint64_t max_file_bytes;
    uint64_t max_line_bytes;
    uint64_t max_files;
    uint64_t max_directories;
};

struct file_state {
    char *path; /* the file label */
    uint64_t errors;
    uint64_t err_hash;      /* of the last error message, to log once per change */
    uint64_t conflict_hash; /* of the last merge conflicts, likewise */
    bool failing;
    bool seen;
};

/* A family across the files of one cycle. */
struct mfam {
    const char *name; /* cycle arena */
    const char *help; /* first explicit HELP (cycle arena), NULL: none so far */
    enum hk_metric_type type;
    bool conflict;         /* a file gave another HELP: later files' series are dropped */
    bool created_explicit; /* the builder family was created with `help` */
    uint32_t nfiles;
    uint32_t head, tail; /* list of files in t->links (index + 1; 0 = none) */
};

struct mlink {
    uint32_t path; /* index into t->cpaths */
    uint32_t next; /* index + 1, 0 = end */
};

/* One summary/histogram sample of the file being emitted, for the completion of its group. */
struct grp {
    uint32_t fam; /* parser family */
    uint32_t key_off, key_len;
    uint32_t sample;
    uint32_t role;
    double value;
};
/* A family of the current file dropped for a conflict with an earlier file. */
struct drop {
    uint32_t fam; /* parser family */
    uint32_t mf;  /* merge entry */
    char why;     /* 'h'elp, 't'ype, or 'o'wned by hakari or another collector */
};

#define ROLE_SUM 1u
#define ROLE_COUNT 2u
#define ROLE_INF 4u

struct textfile {
    struct options opt;
    struct hk_promtext parser;
    char *buf;
    size_t bufcap;
    struct file_state *files; /* sorted by path */
    size_t nfiles, capfiles;
    struct hk_family_spec *specs;
    size_t capspecs;
    bool *keep;
    size_t capkeep;
    struct hk_label *labels;
    size_t caplabels;
    uint64_t skips_files, skips_dirs;
    uint64_t refused_families; /* families refused for their name (hakari_*, another collector) */
    uint64_t *dir_failing; /* hashes of directories that failed last cycle, sorted */
    size_t ndir_failing;
    bool too_many_files_logged, too_many_dirs_logged;
    /* per cycle */
    struct hk_arena *arena;
    struct hk_arena_mark arena_start;
    struct mfam *mf;
    size_t nmf, capmf;
    uint32_t *mf_index; /* open addressing: index + 1 */
    size_t mf_index_cap;
    struct mlink *links;
    size_t nlinks, caplinks;
    const char **cpaths; /* file paths of this cycle (arena) */
    size_t ncpaths, capcpaths;
    struct grp *grps;
    size_t ngrps, capgrps;
    char *keys;
    size_t keys_len, keys_cap;
    struct drop *drops;
    size_t ndrops, capdrops;
};

void (*hk_textfile_read_hook)(int dirfd, const char *name, int attempt);

static bool grow(void **p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return true;
    size_t n = *cap ? *cap : 16;
    while (n < need) {
        if (n > SIZE_MAX / 4 / elem)
            return false;
        n *= 2;
    }
    void *q = realloc(*p, n * elem);
    if (!q)
        return false;
    *p = q;
    *cap = n;
    return true;
}

static uint64_t str_hash(const char *s, size_t len)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ull;
    }
    return h;
}

/* ------------------------------------------------------------------ options */

static void options_free(struct options *o)
{
    for (size_t i = 0; i < o->npatterns; i++)
        free(o->patterns[i]);
    free(o->patterns);
    o->patterns = NULL;
    o->npatterns = 0;
}

static int add_pattern(struct options *o, const struct hk_yaml_node *v, struct hk_error *err)
{
    char *s = NULL;
    int r = hk_yaml_string(v, &s, err);
    if (r < 0)
        return r;
    if (!*s) { /* "" is node_exporter's default: no directory */
        free(s);
        return 0;
    }
    if (strlen(s) >= MAX_PATH_BYTES) {
        free(s);
        return hk_error_at(err, v, "directory longer than %d bytes", MAX_PATH_BYTES - 1);
    }
    if (o->npatterns == MAX_PATTERNS) {
        free(s);
        return hk_error_at(err, v, "more than %d directories", MAX_PATTERNS);
    }
    char **p = realloc(o->patterns, (o->npatterns + 1) * sizeof(*p));
    if (!p) {
        free(s);
        return -ENOMEM;
    }
    o->patterns = p;
    o->patterns[o->npatterns++] = s;
    return 0;
}

static int options_parse(const struct hk_yaml_node *n, struct options *o, struct hk_error *err)
{
    static const char *const keys[] = {HK_COLLECTOR_COMMON_KEYS, "directory", "max_file_size",
                                       "max_line_length", "max_files", "max_directories", NULL};
    *o = (struct options){NULL, 0, DEFAULT_MAX_FILE_BYTES, HK_PROMTEXT_DEFAULT_MAX_LINE,
                          DEFAULT_MAX_FILES, DEFAULT_MAX_DIRECTORIES};
    int r = hk_yaml_check_keys(n, keys, err);
    if (r < 0)
        return r;
    const struct hk_yaml_node *v;
    if ((v = hk_yaml_get(n, "directory")) && !(v->kind == HK_YAML_SCALAR && v->plain_null)) {
        if (v->kind == HK_YAML_SEQ) {
            for (size_t i = 0; i < v->n; i++)
                if ((r = add_pattern(o, v->items[i], err)) < 0)
                    goto out;
        } else if ((r = add_pattern(o, v, err)) < 0) {
            goto out;
        }
    }
    if ((v = hk_yaml_get(n, "max_file_size"))) {
        if ((r = hk_yaml_bytes(v, &o->max_file_bytes, err)) < 0)
            goto out;
        if (o->max_file_bytes == 0 || o->max_file_bytes > (1ull << 31)) {
            r = hk_error_at(err, v, "max_file_size must be between 1 byte and 2GiB");
            goto out;
        }
    }
    if ((v = hk_yaml_get(n, "max_line_length"))) {
        if ((r = hk_yaml_bytes(v, &o->max_line_bytes, err)) < 0)
            goto out;
        if (o->max_line_bytes < 16 || o->max_line_bytes > (64u << 20)) {
            r = hk_error_at(err, v, "max_line_length must be between 16 bytes and 64MiB");
            goto out;
        }
    }
    if ((v = hk_yaml_get(n, "max_files")) &&
        (r = hk_yaml_u64(v, 1, 1000000, &o->max_files, err)) < 0)
        goto out;
    if ((v = hk_yaml_get(n, "max_directories")) &&
        (r = hk_yaml_u64(v, 1, 100000, &o->max_directories, err)) < 0)
        goto out;
    return 0;
out:
    options_free(o);
    return r;
}

static int textfile_check(const struct hk_collector_env *env)
{
    struct options o;
    int r = options_parse(env->options, &o, env->err);
    if (r == 0)
        options_free(&o);
    return r;
}

/* ------------------------------------------------------------------ state */

static void textfile_fini(void *state)
{
    struct textfile *t = state;
    if (!t)
        return;
    options_free(&t->opt);
    hk_promtext_fini(&t->parser);
    hk_big_free(t->buf, t->bufcap);
    for (size_t i = 0; i < t->nfiles; i++)
        free(t->files[i].path);
    free(t->files);
    free(t->specs);
    free(t->keep);
    free(t->labels);
    free(t->dir_failing);
    if (t->arena)
        hk_arena_free(t->arena);
    free(t->mf);
    free(t->mf_index);
    free(t->links);
    free(t->cpaths);
    free(t->grps);
    free(t->keys);
    free(t->drops);
    free(t);
}

static int textfile_init(void **ret_state, const struct hk_collector_env *env)
{
    struct textfile *t = calloc(1, sizeof(*t));
    if (!t)
        return -ENOMEM;
    int r = options_parse(env->options, &t->opt, env->err);
    if (r < 0) {
        free(t);
        return r;
    }
    if (!(t->arena = hk_arena_new(64 * 1024))) {
        textfile_fini(t);
        return -ENOMEM;
    }
    t->arena_start = hk_arena_mark(t->arena);
    hk_promtext_init(&t->parser, (size_t)t->opt.max_line_bytes,
                     env->config ? env->config->limits.max_series : 0);
    *ret_state = t;
    return 0;
}

static struct file_state *file_state_get(struct textfile *t, const char *path, bool create)
{
    size_t lo = 0, hi = t->nfiles;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(t->files[mid].path, path);
        if (c == 0)
            return &t->files[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (!create)
        return NULL;
    if (!grow((void **)&t->files, &t->capfiles, t->nfiles + 1, sizeof(*t->files)))
        return NULL;
    char *copy = strdup(path);
    if (!copy)
        return NULL;
    memmove(&t->files[lo + 1], &t->files[lo], (t->nfiles - lo) * sizeof(*t->files));
    t->files[lo] = (struct file_state){.path = copy};
    t->nfiles++;
    return &t->files[lo];
}

/* Forgets files that are gone, so their series disappear with them. */
static void file_states_prune(struct textfile *t)
{
    size_t k = 0;
    for (size_t i = 0; i < t->nfiles; i++) {
        if (t->files[i].seen)
            t->files[k++] = t->files[i];
        else
            free(t->files[i].path);
    }
    t->nfiles = k;
}

/* ------------------------------------------------------------------ paths */

/* Go's filepath.Clean, lexically: one slash between elements, no "." elements, ".." removes the
 * element before it ("/.." is "/"), "" is ".". out holds at least strlen(in) + 2 bytes. Returns
 * the length. */
static size_t clean_path(char *out, const char *in)
{
    size_t n = strlen(in), r = 0, w = 0, dotdot = 0;
    bool rooted = n > 0 && in[0] == '/';
    if (rooted) {
        out[w++] = '/';
        r = dotdot = 1;
    }
    while (r < n) {
        if (in[r] == '/' || (in[r] == '.' && (r + 1 == n || in[r + 1] == '/'))) {
            r++; /* empty or "." element */
        } else if (in[r] == '.' && in[r + 1] == '.' && (r + 2 == n || in[r + 2] == '/')) {
            r += 2;
            if (w > dotdot) {
                w--;
                while (w > dotdot && out[w] != '/')
                    w--;
            } else if (!rooted) {
                if (w > 0)
                    out[w++] = '/';
                out[w++] = '.';
                out[w++] = '.';
                dotdot = w;
            }
        } else {
            if ((rooted && w != 1) || (!rooted && w != 0))
                out[w++] = '/';
            for (; r < n && in[r] != '/'; r++)
                out[w++] = in[r];
        }
    }
    if (w == 0)
        out[w++] = '.';
    out[w] = '\0';
    return w;
}

/* dir joined with name and cleaned (Go's filepath.Join) into out (cap bytes); false if too long. */
static bool join_clean(char *out, size_t cap, const char *dir, const char *name)
{
    char tmp[2 * MAX_PATH_BYTES + 8];
    size_t dl = strlen(dir), nl = strlen(name);
    if (dl + nl + 2 > sizeof(tmp) || dl + nl + 3 > cap)
        return false;
    size_t o = 0;
    if (dl) {
        memcpy(tmp, dir, dl);
        o = dl;
        if (nl)
            tmp[o++] = '/';
    }
    memcpy(tmp + o, name, nl);
    tmp[o + nl] = '\0';
    clean_path(out, tmp);
    return true;
}

/* A path opened relative to the rootfs fd. */
static const char *rel_path(const char *p)
{
    while (*p == '/')
        p++;
    return *p ? p : ".";
}

static bool has_meta(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] == '*' || s[i] == '?' || s[i] == '[' || s[i] == '\\')
            return true;
    return false;
}

struct strvec {
    char **v;
    size_t n, cap;
};

static void strvec_free(struct strvec *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->v[i]);
    free(s->v);
    *s = (struct strvec){0};
}

static int strvec_push(struct strvec *s, const char *str)
{
    if (!grow((void **)&s->v, &s->cap, s->n + 1, sizeof(*s->v)))
        return -ENOMEM;
    if (!(s->v[s->n] = strdup(str)))
        return -ENOMEM;
    s->n++;
    return 0;
}

static int str_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Entries of dir (under root_fd) whose name matches the glob element pat, sorted, appended to
 * out as dir/name; at most *budget of them (the rest counted in *over). A directory that cannot
 * be read matches nothing (as Go's filepath.Glob). */
static int glob_dir(int root_fd, const char *dir, const char *pat, struct strvec *out,
                    size_t *budget, uint64_t *over)
{
    int r = 0;
    struct strvec names = {0};
    int fd = openat(root_fd, rel_path(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    if (!d) {
        if (fd >= 0)
            close(fd);
        return 0;
    }
    struct dirent *de;
    while ((de = readdir(d))) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        if (fnmatch(pat, de->d_name, 0) != 0)
            continue;
        if (names.n == *budget) {
            (*over)++;
            continue;
        }
        if ((r = strvec_push(&names, de->d_name)) < 0)
            goto out;
    }
    if (names.n > 1)
        qsort(names.v, names.n, sizeof(*names.v), str_cmp);
    *budget -= names.n;
    for (size_t i = 0; i < names.n; i++) {
        char path[MAX_PATH_BYTES + 8];
        if (!join_clean(path, sizeof(path), dir, names.v[i]))
            continue; /* longer than any configurable path: not a textfile directory */
        if ((r = strvec_push(out, path)) < 0)
            goto out;
    }
out:
    strvec_free(&names);
    closedir(d);
    return r;
}

/* Expands one configured directory like node_exporter: the glob's matches in name order, or the
 * pattern itself when it has no meta-characters or matches nothing. */
static int expand_pattern(int root_fd, const char *pattern, struct strvec *out, uint64_t *over)
{
    size_t plen = strlen(pattern);
    if (!has_meta(pattern, plen))
        return strvec_push(out, pattern);
    char clean[MAX_PATH_BYTES + 8];
    clean_path(clean, pattern);
    struct strvec cur = {0}, next = {0};
    int r = strvec_push(&cur, clean[0] == '/' ? "/" : "");
    size_t budget = MAX_GLOB_SCAN;
    const char *p = clean;
    while (r == 0 && *p) {
        while (*p == '/')
            p++;
        const char *e = strchr(p, '/');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len == 0)
            break;
        char elem[MAX_PATH_BYTES + 8];
        memcpy(elem, p, len);
        elem[len] = '\0';
        for (size_t i = 0; r == 0 && i < cur.n; i++) {
            if (!has_meta(elem, len)) {
                char path[MAX_PATH_BYTES + 8];
                if (join_clean(path, sizeof(path), cur.v[i], elem))
                    r = strvec_push(&next, path);
            } else {
                r = glob_dir(root_fd, cur.v[i], elem, &next, &budget, over);
            }
        }
        strvec_free(&cur);
        cur = next;
        next = (struct strvec){0};
        p += len;
    }
    /* Literal elements after the last glob were not checked: keep what exists. */
    size_t before = out->n;
    for (size_t i = 0; r == 0 && i < cur.n; i++) {
        struct stat st;
        if (fstatat(root_fd, rel_path(cur.v[i]), &st, AT_SYMLINK_NOFOLLOW) == 0)
            r = strvec_push(out, cur.v[i]);
    }
    if (r == 0 && out->n == before)
        r = strvec_push(out, pattern); /* no match: read as a directory of that name */
    strvec_free(&cur);
    strvec_free(&next);
    return r;
}

/* ------------------------------------------------------------------ reading */

static int read_once(int fd, size_t max_bytes, char **buf, size_t *cap, size_t *ret_len,
                     struct stat *ret_st)
{
    struct stat st;
    if (fstat(fd, &st) < 0)
        return -errno;
    if (S_ISDIR(st.st_mode))
        return -EISDIR;
    if (!S_ISREG(st.st_mode))
        return -EINVAL;
    if ((uint64_t)st.st_size > max_bytes)
        return -EFBIG;
    /* One spare byte to notice a file that grew since fstat. */
    size_t want = (size_t)st.st_size + 2;
    if (want > *cap) {
        hk_big_free(*buf, *cap); /* contents are read afresh */
        *buf = NULL;
        *cap = 0;
        char *nb = hk_big_alloc(want);
        if (!nb)
            return -ENOMEM;
        *buf = nb;
        *cap = want;
    }
    size_t n = 0;
    while (n < (size_t)st.st_size + 1) {
        ssize_t k = read(fd, *buf + n, (size_t)st.st_size + 1 - n);
        if (k < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        if (k == 0)
            break;
        n += (size_t)k;
    }
    (*buf)[n] = '\0';
    *ret_len = n;
    *ret_st = st;
    return 0;
}

long hk_textfile_read_stable(int dirfd, const char *name, size_t max_bytes, char **buf,
                             size_t *cap, struct stat *ret_st)
{
    for (int attempt = 0; attempt < 2; attempt++) {
        int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
        if (fd < 0)
            return -errno;
        size_t len = 0;
        struct stat before, after, now;
        int r = read_once(fd, max_bytes, buf, cap, &len, &before);
        if (r == 0 && hk_textfile_read_hook)
            hk_textfile_read_hook(dirfd, name, attempt);
        if (r == 0 && fstat(fd, &after) < 0)
            r = -errno;
        close(fd);
        if (r < 0)
            return r;
        /* The name may now point at a new file (atomic rename by the writer): what we read is
         * the complete old one, but read the new one instead when we can. `before` is set: r is 0
         * here, and read_once returns 0 only after filling it (clang-tidy assumes a failed fstat
         * may leave errno 0 and so return 0):
         * NOLINTNEXTLINE(clang-analyzer-core.UndefinedBinaryOperatorResult) */
        bool same_name = fstatat(dirfd, name, &now, 0) == 0 && now.st_ino == before.st_ino &&
                         now.st_dev == before.st_dev;
        /* NOLINTNEXTLINE(clang-analyzer-core.UndefinedBinaryOperatorResult): as above */
        bool stable = len == (size_t)before.st_size && after.st_size == before.st_size &&
                      after.st_mtim.tv_sec == before.st_mtim.tv_sec &&
                      after.st_mtim.tv_nsec == before.st_mtim.tv_nsec;
        if (stable && same_name) {
            *ret_st = before;
            return (long)len;
        }
        if (stable && attempt == 1) {
            *ret_st = before; /* replaced twice in a row: the copy we hold is still whole */
            return (long)len;
        }
    }
    return -EAGAIN;
}

/* ------------------------------------------------------------------ merge across files */

static void merge_reset(struct textfile *t)
{
    hk_arena_rewind(t->arena, t->arena_start);
    t->nmf = 0;
    t->nlinks = 0;
    t->ncpaths = 0;
    if (t->mf_index)
        memset(t->mf_index, 0, t->mf_index_cap * sizeof(*t->mf_index));
}

static void mf_index_put(struct textfile *t, uint32_t i)
{
    size_t mask = t->mf_index_cap - 1;
    size_t h = (size_t)str_hash(t->mf[i].name, strlen(t->mf[i].name)) & mask;
    while (t->mf_index[h])
        h = (h + 1) & mask;
    t->mf_index[h] = i + 1;
}

/* The cycle's entry for a family name, created (type and help from the first file) if new. */
static struct mfam *merge_get(struct textfile *t, const struct hk_promtext_family *f, bool *ret_new)
{
    size_t len = strlen(f->name);
    uint64_t hash = str_hash(f->name, len);
    *ret_new = false;
    if (t->mf_index_cap) {
        size_t mask = t->mf_index_cap - 1;
        for (size_t h = (size_t)hash & mask; t->mf_index[h]; h = (h + 1) & mask) {
            struct mfam *m = &t->mf[t->mf_index[h] - 1];
            if (strcmp(m->name, f->name) == 0)
                return m;
        }
    }
    if (!grow((void **)&t->mf, &t->capmf, t->nmf + 1, sizeof(*t->mf)))
        return NULL;
    if ((t->nmf + 1) * 2 > t->mf_index_cap) {
        size_t cap = t->mf_index_cap ? t->mf_index_cap * 2 : 256;
        uint32_t *ix = calloc(cap, sizeof(*ix));
        if (!ix)
            return NULL;
        free(t->mf_index);
        t->mf_index = ix;
        t->mf_index_cap = cap;
        for (size_t i = 0; i < t->nmf; i++)
            mf_index_put(t, (uint32_t)i);
    }
    const char *name = hk_arena_strndup(t->arena, f->name, len);
    const char *help = f->help ? hk_arena_strndup(t->arena, f->help, strlen(f->help)) : NULL;
    if (!name || (f->help && !help))
        return NULL;
    t->mf[t->nmf] = (struct mfam){.name = name, .help = help, .type = f->type};
    mf_index_put(t, (uint32_t)t->nmf);
    *ret_new = true;
    return &t->mf[t->nmf++];
}

static int merge_add_file(struct textfile *t, struct mfam *m, uint32_t path_idx)
{
    if (!grow((void **)&t->links, &t->caplinks, t->nlinks + 1, sizeof(*t->links)))
        return -ENOMEM;
    t->links[t->nlinks] = (struct mlink){path_idx, 0};
    uint32_t id = (uint32_t)++t->nlinks;
    if (m->tail)
        t->links[m->tail - 1].next = id;
    else
        m->head = id;
    m->tail = id;
    m->nfiles++;
    return 0;
}

/* Decides for each family of the parsed file whether its series are emitted (t->keep) and with
 * which help (t->specs), and records the file in the cycle's merge table. Returns the number of
 * families dropped for a conflict, or -ENOMEM. */
static int merge_file(struct textfile *t, const struct hk_builder *b, struct file_state *fs,
                      uint32_t path_idx)
{
    struct hk_promtext *p = &t->parser;
    const char *path = t->cpaths[path_idx];
    if (!grow((void **)&t->specs, &t->capspecs, p->nfamilies, sizeof(*t->specs)) ||
        !grow((void **)&t->keep, &t->capkeep, p->nfamilies, sizeof(*t->keep)))
        return -ENOMEM;
    int dropped = 0;
    uint64_t conflicts = 0;
    t->ndrops = 0;
    for (size_t i = 0; i < p->nfamilies; i++) {
        const struct hk_promtext_family *f = &p->families[i];
        t->keep[i] = false;
        if (f->nsamples == 0)
            continue; /* HELP/TYPE without samples: not a family of this file (expfmt drops it) */
        bool is_new;
        struct mfam *m = merge_get(t, f, &is_new);
        if (!m)
            return -ENOMEM;
        const char *why = NULL;
        /* A textfile may not override hakari's own families (hakari_*, process_*) nor one that
         * another collector emits this cycle: node_exporter refuses such collisions too. */
        const char *owner = hk_builder_family_collector(b, f->name);
        if (strncmp(f->name, "hakari_", 7) == 0 || strncmp(f->name, "process_", 8) == 0 ||
            strcmp(f->name, "node_exporter_build_info") == 0 ||
            (owner && strcmp(owner, "textfile") != 0)) {
            why = "owned";
            t->refused_families++;
        } else if (!is_new && m->type != f->type)
            why = "type";
        else if (!is_new && m->help && ((f->help && strcmp(m->help, f->help) != 0) || m->conflict))
            why = "help";
        if (why) {
            if (*why == 'h')
                m->conflict = true;
            dropped++;
            conflicts = conflicts * 31 + str_hash(f->name, strlen(f->name));
            if (!grow((void **)&t->drops, &t->capdrops, t->ndrops + 1, sizeof(*t->drops)))
                return -ENOMEM;
            t->drops[t->ndrops++] = (struct drop){(uint32_t)i, (uint32_t)(m - t->mf), *why};
            continue;
        }
        if (!m->help && f->help && !(m->help = hk_arena_strndup(t->arena, f->help,
                                                                 strlen(f->help))))
            return -ENOMEM;
        if (merge_add_file(t, m, path_idx) < 0)
            return -ENOMEM;
        if (is_new)
            m->created_explicit = m->help != NULL;
        t->keep[i] = true;
        /* The help of a new builder family (NULL: "Metric read from" this file); fixed up at the
         * end of the cycle when the final one differs (more files without HELP, or a HELP that
         * came later). */
        t->specs[i] = (struct hk_family_spec){f->name, m->help, f->type, ""};
    }
    if (fs->conflict_hash != conflicts) /* log once per change, not every cycle */
        for (size_t k = 0; k < t->ndrops; k++) {
            const struct hk_promtext_family *f = &p->families[t->drops[k].fam];
            const struct mfam *m = &t->mf[t->drops[k].mf];
            const char *first = m->head ? t->cpaths[t->links[m->head - 1].path] : "";
            if (t->drops[k].why == 'o')
                hk_log_warn("textfile family refused: the name belongs to hakari or another "
                            "collector",
                            "file", path, "metric", f->name);
            else if (t->drops[k].why == 'h')
                hk_log_warn("textfile family dropped: inconsistent HELP", "file", path,
                            "metric", f->name, "help", f->help ? f->help : "", "first_file",
                            first, "first_help", m->help);
            else
                hk_log_warn("textfile family dropped: inconsistent TYPE", "file", path,
                            "metric", f->name, "type", hk_metric_type_name(f->type), "first_file", first,
                            "first_type", hk_metric_type_name(m->type));
        }
    fs->conflict_hash = conflicts;
    return dropped;
}

/* Sets the final help of every family whose builder family was created with another one. */
static int merge_finish(struct textfile *t, struct hk_builder *b)
{
    char *help = NULL;
    size_t cap = 0;
    int r = 0;
    for (size_t i = 0; i < t->nmf; i++) {
        const struct mfam *m = &t->mf[i];
        if (m->nfiles == 0)
            continue; /* every file's series of it were dropped */
        if (m->help) {
            if (m->created_explicit)
                continue;
            r = hk_builder_set_help(b, m->name, m->help);
        } else {
            if (m->nfiles == 1)
                continue;
            size_t len = 0;
            uint32_t named = 0;
            for (uint32_t l = m->head; l; l = t->links[l - 1].next) {
                const char *fp = t->cpaths[t->links[l - 1].path];
                size_t fl = strlen(fp);
                if (!grow((void **)&help, &cap, len + fl + 64, 1)) {
                    r = -ENOMEM;
                    goto out;
                }
                if (len == 0) {
                    len = (size_t)snprintf(help, cap, "Metric read from ");
                } else if (len + fl > MAX_MERGED_HELP) {
                    snprintf(help + len, cap - len, " and %u more files", m->nfiles - named);
                    break;
                } else {
                    help[len++] = ',';
                    help[len++] = ' ';
                }
                memcpy(help + len, fp, fl);
                len += fl;
                help[len] = '\0';
                named++;
            }
            r = hk_builder_set_help(b, m->name, help);
        }
        if (r == -ENOMEM)
            goto out;
        r = 0; /* -ENOENT: the family belongs to another collector, or its series were capped */
    }
out:
    free(help);
    return r;
}

/* ------------------------------------------------------------------ one file */

static void report_error(struct file_state *fs, unsigned line, const char *msg)
{
    fs->errors++;
    uint64_t h = str_hash(msg, strlen(msg)) ^ line;
    if (!fs->failing || fs->err_hash != h) {
        char ln[16];
        snprintf(ln, sizeof(ln), "%u", line);
        if (line)
            hk_log_warn("textfile skipped", "file", fs->path, "line", ln, "err", msg);
        else
            hk_log_warn("textfile skipped", "file", fs->path, "err", msg);
    }
    fs->failing = true;
    fs->err_hash = h;
}

static bool grow_labels(struct textfile *t, size_t n)
{
    return grow((void **)&t->labels, &t->caplabels, n ? n : 1, sizeof(*t->labels));
}

/* Copies the sample's labels to t->labels without empty values and without `skip` (NULL: none);
 * returns how many. */
static size_t filter_labels(struct textfile *t, const struct hk_promtext_sample *s,
                            const char *skip)
{
    size_t n = 0;
    for (size_t k = 0; k < s->nlabels; k++) {
        if (!s->labels[k].value[0])
            continue; /* an empty label value is the same as no label in Prometheus */
        if (skip && strcmp(s->labels[k].name, skip) == 0)
            continue;
        t->labels[n++] = s->labels[k];
    }
    return n;
}

static int lab_name_cmp(const void *a, const void *b)
{
    return strcmp(((const struct hk_label *)a)->name, ((const struct hk_label *)b)->name);
}

/* Records a summary/histogram sample for the completion of its series group. */
static int grp_add(struct textfile *t, uint32_t sample, const struct hk_promtext_sample *s,
                   const char *family, enum hk_metric_type type)
{
    bool hist = type == HK_METRIC_HISTOGRAM;
    size_t fl = strlen(family);
    const char *suffix = s->name + fl;
    uint32_t role = 0;
    double value = s->value;
    if (strcmp(suffix, "_sum") == 0) {
        role = ROLE_SUM;
    } else if (strcmp(suffix, "_count") == 0) {
        role = ROLE_COUNT;
    } else if (hist) { /* _bucket: the parser checked le */
        for (size_t k = 0; k < s->nlabels; k++) {
            double le;
            if (strcmp(s->labels[k].name, "le") == 0 &&
                hk_promtext_parse_value(s->labels[k].value, strlen(s->labels[k].value), &le) == 0 &&
                isinf(le) && le > 0)
                role = ROLE_INF;
        }
    }
    size_t n = filter_labels(t, s, hist ? "le" : "quantile");
    if (n > 1)
        qsort(t->labels, n, sizeof(*t->labels), lab_name_cmp);
    size_t need = 0;
    for (size_t k = 0; k < n; k++)
        need += strlen(t->labels[k].name) + strlen(t->labels[k].value) + 2;
    if (t->keys_len + need > UINT32_MAX)
        return -E2BIG;
    if (!grow((void **)&t->keys, &t->keys_cap, t->keys_len + need + 1, 1) ||
        !grow((void **)&t->grps, &t->capgrps, t->ngrps + 1, sizeof(*t->grps)))
        return -ENOMEM;
    uint32_t off = (uint32_t)t->keys_len;
    for (size_t k = 0; k < n; k++) {
        size_t a = strlen(t->labels[k].name) + 1, v = strlen(t->labels[k].value) + 1;
        memcpy(t->keys + t->keys_len, t->labels[k].name, a);
        memcpy(t->keys + t->keys_len + a, t->labels[k].value, v);
        t->keys_len += a + v;
    }
    t->grps[t->ngrps++] = (struct grp){s->family, off, (uint32_t)(t->keys_len - off), sample,
                                       role, value};
    return 0;
}

static int grp_cmp(const void *a, const void *b, void *ctx)
{
    const struct grp *x = a, *y = b;
    const char *keys = ctx;
    if (x->fam != y->fam)
        return x->fam < y->fam ? -1 : 1;
    size_t n = x->key_len < y->key_len ? x->key_len : y->key_len;
    int c = memcmp(keys + x->key_off, keys + y->key_off, n);
    if (c)
        return c;
    if (x->key_len != y->key_len)
        return x->key_len < y->key_len ? -1 : 1;
    return x->sample < y->sample ? -1 : x->sample > y->sample;
}

/* Adds what node_exporter's const summaries and histograms always have: _sum and _count (0 when
 * the file had none) and, for a histogram, the le="+Inf" bucket (= _count). */
static int complete_groups(struct textfile *t, struct hk_builder *b)
{
    struct hk_promtext *p = &t->parser;
    if (t->ngrps > 1)
        qsort_r(t->grps, t->ngrps, sizeof(*t->grps), grp_cmp, t->keys);
    for (size_t i = 0; i < t->ngrps;) {
        size_t j = i;
        uint32_t roles = 0;
        double count = 0;
        while (j < t->ngrps && t->grps[j].fam == t->grps[i].fam &&
               t->grps[j].key_len == t->grps[i].key_len &&
               memcmp(t->keys + t->grps[j].key_off, t->keys + t->grps[i].key_off,
                      t->grps[i].key_len) == 0) {
            roles |= t->grps[j].role;
            if (t->grps[j].role == ROLE_COUNT)
                count = t->grps[j].value;
            j++;
        }
        const struct hk_family_spec *spec = &t->specs[t->grps[i].fam];
        bool hist = spec->type == HK_METRIC_HISTOGRAM;
        uint32_t want = ROLE_SUM | ROLE_COUNT | (hist ? ROLE_INF : 0);
        if ((roles & want) != want) {
            struct hk_promtext_sample s;
            int r = hk_promtext_sample(p, t->grps[i].sample, &s);
            if (r < 0)
                return r;
            if (!grow_labels(t, s.nlabels + 1))
                return -ENOMEM;
            size_t n = filter_labels(t, &s, hist ? "le" : "quantile");
            size_t cap = strlen(spec->name) + 8;
            char *name = malloc(cap);
            if (!name)
                return -ENOMEM;
            static const struct {
                uint32_t role;
                const char *suffix;
            } add[] = {{ROLE_SUM, "_sum"}, {ROLE_COUNT, "_count"}, {ROLE_INF, "_bucket"}};
            for (size_t k = 0; k < 3; k++) {
                if (!(want & add[k].role) || (roles & add[k].role))
                    continue;
                snprintf(name, cap, "%s%s", spec->name, add[k].suffix);
                size_t nl = n;
                if (add[k].role == ROLE_INF)
                    t->labels[nl++] = (struct hk_label){"le", "+Inf"};
                r = hk_emit_labels(b, spec, name, t->labels, nl,
                                   add[k].role == ROLE_INF ? count : 0, 0);
                if (r == -ENOMEM)
                    break;
            }
            free(name);
            if (r == -ENOMEM)
                return r;
        }
        i = j;
    }
    return 0;
}

static int emit_file(struct textfile *t, struct hk_builder *b)
{
    struct hk_promtext *p = &t->parser;
    t->ngrps = 0;
    t->keys_len = 0;
    for (size_t i = 0; i < p->nsamples; i++) {
        struct hk_promtext_sample s;
        int r = hk_promtext_sample(p, i, &s);
        if (r < 0)
            return r;
        if (!t->keep[s.family])
            continue;
        if (!grow_labels(t, s.nlabels))
            return -ENOMEM;
        const struct hk_family_spec *spec = &t->specs[s.family];
        if (spec->type == HK_METRIC_SUMMARY || spec->type == HK_METRIC_HISTOGRAM) {
            if ((r = grp_add(t, (uint32_t)i, &s, spec->name, spec->type)) == -ENOMEM)
                return r;
        }
        size_t n = filter_labels(t, &s, NULL);
        r = hk_emit_labels(b, spec, s.name, t->labels, n, s.value, 0);
        if (r == -ENOMEM)
            return r;
        /* -E2BIG: the series cap, counted by the builder; -EINVAL cannot happen for input the
         * parser accepted, and one bad series must not hide the others. */
    }
    return complete_groups(t, b);
}

/* Reads, parses and emits one file. Returns 1 when read (emitted, possibly without families
 * dropped for a conflict with an earlier file: 3), 0 when skipped (reported), 2 when it
 * vanished before it could be opened, or -ENOMEM. */
static int process_file(struct textfile *t, struct hk_builder *b, int dfd, const char *name,
                        struct file_state *fs, uint32_t path_idx, double *ret_mtime)
{
    struct stat st;
    long n = hk_textfile_read_stable(dfd, name, (size_t)t->opt.max_file_bytes, &t->buf,
                                     &t->bufcap, &st);
    if (n < 0) {
        char msg[160];
        if (n == -EFBIG)
            snprintf(msg, sizeof(msg), "file larger than max_file_size (%llu bytes)",
                     (unsigned long long)t->opt.max_file_bytes);
        else if (n == -EAGAIN)
            snprintf(msg, sizeof(msg), "file kept changing while it was read (tried twice)");
        else if (n == -EISDIR || n == -EINVAL)
            snprintf(msg, sizeof(msg), "not a regular file");
        else
            snprintf(msg, sizeof(msg), "cannot read: %s", strerror((int)-n));
        if (n == -ENOMEM)
            return -ENOMEM;
        if (n == -ENOENT)
            return 2; /* removed since the directory was listed: normal life, not an error */
        report_error(fs, 0, msg);
        return 0;
    }
    struct hk_promtext *p = &t->parser;
    int r = hk_promtext_parse(p, t->buf, (size_t)n);
    if (r == -ENOMEM)
        return -ENOMEM;
    if (r < 0) {
        report_error(fs, p->err_line, p->err_msg);
        return 0;
    }
    if (p->timestamps) {
        report_error(fs, p->first_ts_line,
                     "contains unsupported client-side timestamps, skipping entire file");
        return 0;
    }
    int dropped = merge_file(t, b, fs, path_idx);
    if (dropped < 0)
        return dropped;
    char help[MAX_PATH_BYTES + 64];
    snprintf(help, sizeof(help), "Metric read from %s", fs->path);
    for (size_t i = 0; i < p->nfamilies; i++)
        if (t->keep[i] && !t->specs[i].help)
            t->specs[i].help = help;
    if ((r = emit_file(t, b)) < 0)
        return r;
    if (fs->failing)
        hk_log_info("textfile readable again", "file", fs->path);
    fs->failing = false;
    /* n >= 0, so read_stable filled st (clang-tidy assumes a failed openat may leave errno 0):
     * NOLINTNEXTLINE(clang-analyzer-core.uninitialized.Assign) */
    *ret_mtime = (double)st.st_mtim.tv_sec;
    return dropped ? 3 : 1;
}

/* ------------------------------------------------------------------ cycle */

static bool is_prom(const char *name)
{
    size_t l = strlen(name);
    return l >= 5 && memcmp(name + l - 5, ".prom", 5) == 0;
}

static int u64_cmp(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

static bool was_failing(const struct textfile *t, uint64_t h)
{
    return t->ndir_failing &&
           bsearch(&h, t->dir_failing, t->ndir_failing, sizeof(h), u64_cmp) != NULL;
}

/* Lists dir's *.prom names (sorted) into names; at most *budget (the rest counted). Returns the
 * directory fd, or -errno when it cannot be read. */
static int list_dir(struct textfile *t, int root_fd, const char *dir, struct strvec *names,
                    uint64_t *budget)
{
    int dfd = openat(root_fd, rel_path(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        return -errno;
    int dup_fd = dup(dfd);
    DIR *d = dup_fd >= 0 ? fdopendir(dup_fd) : NULL;
    if (!d) {
        int e = errno;
        if (dup_fd >= 0)
            close(dup_fd);
        close(dfd);
        return -e;
    }
    struct dirent *de;
    int r = 0;
    while ((de = readdir(d))) {
        if (!is_prom(de->d_name))
            continue;
        if (*budget == 0) {
            t->skips_files++;
            continue;
        }
        if ((r = strvec_push(names, de->d_name)) < 0)
            break;
        (*budget)--;
    }
    closedir(d);
    if (r < 0) {
        close(dfd);
        return r;
    }
    if (names->n > 1) /* qsort(NULL, 0, …) is undefined */
        qsort(names->v, names->n, sizeof(*names->v), str_cmp);
    return dfd;
}

/* Cleans each directory path (the file labels are cleaned joins anyway), drops repeats (two
 * patterns matching one directory: read once) and keeps the first max_dirs, counting the rest. */
static int dedupe_dirs(struct strvec *dirs, uint64_t max_dirs, uint64_t *over)
{
    size_t cap = 16;
    while (cap < dirs->n * 2)
        cap *= 2;
    uint32_t *seen = calloc(cap, sizeof(*seen)); /* kept index + 1 */
    if (!seen)
        return -ENOMEM;
    size_t k = 0;
    for (size_t i = 0; i < dirs->n; i++) {
        char c[MAX_PATH_BYTES + 8];
        size_t cl = clean_path(c, dirs->v[i]);
        bool dup = false;
        size_t h = (size_t)str_hash(c, cl) & (cap - 1);
        for (; seen[h]; h = (h + 1) & (cap - 1))
            if (strcmp(dirs->v[seen[h] - 1], c) == 0) {
                dup = true;
                break;
            }
        if (dup || k == max_dirs) {
            *over += !dup;
            free(dirs->v[i]);
            continue;
        }
        if (strcmp(c, dirs->v[i]) != 0) {
            char *copy = strdup(c);
            if (!copy) {
                free(seen);
                for (size_t j = i; j < dirs->n; j++)
                    free(dirs->v[j]);
                dirs->n = k;
                return -ENOMEM;
            }
            free(dirs->v[i]);
            dirs->v[i] = copy;
        }
        dirs->v[k] = dirs->v[i];
        seen[h] = (uint32_t)++k;
    }
    dirs->n = k;
    free(seen);
    return 0;
}

static int textfile_collect(void *state, struct hk_collect_ctx *ctx)
{
    struct textfile *t = state;
    if (!t)
        return 0;
    int r = 0;
    bool errored = false;
    struct strvec dirs = {0}, names = {0};
    uint64_t *failing = NULL;
    size_t nfailing = 0;
    int root_fd = ctx->paths->root_fd;
    if (t->opt.npatterns == 0)
        goto emit_status; /* node_exporter's default: no directory, no error */

    merge_reset(t);
    uint64_t dir_over = 0;
    for (size_t i = 0; i < t->opt.npatterns; i++)
        if ((r = expand_pattern(root_fd, t->opt.patterns[i], &dirs, &dir_over)) < 0)
            goto out;
    if ((r = dedupe_dirs(&dirs, t->opt.max_directories, &dir_over)) < 0)
        goto out;
    if (dir_over) {
        t->skips_dirs += dir_over;
        errored = true;
        if (!t->too_many_dirs_logged) {
            char lim[24], over[24];
            snprintf(lim, sizeof(lim), "%llu", (unsigned long long)t->opt.max_directories);
            snprintf(over, sizeof(over), "%llu", (unsigned long long)dir_over);
            hk_log_warn("textfile directory globs match more than max_directories; the rest are "
                        "not read", "max_directories", lim, "not_read", over);
        }
        t->too_many_dirs_logged = true;
    } else {
        t->too_many_dirs_logged = false;
    }

    for (size_t i = 0; i < t->nfiles; i++)
        t->files[i].seen = false;
    uint64_t budget = t->opt.max_files, files_over_before = t->skips_files;
    if (!(failing = calloc(dirs.n ? dirs.n : 1, sizeof(*failing)))) {
        r = -ENOMEM;
        goto out;
    }
    for (size_t di = 0; di < dirs.n; di++) {
        const char *dir = dirs.v[di];
        strvec_free(&names);
        int dfd = list_dir(t, root_fd, dir, &names, &budget);
        uint64_t h = str_hash(dir, strlen(dir));
        if (dfd == -ENOMEM) {
            r = dfd;
            goto out;
        }
        if (dfd < 0) {
            errored = true;
            failing[nfailing++] = h;
            if (!was_failing(t, h))
                hk_log_warn("cannot read textfile directory", "path", dir, "err",
                            strerror(-dfd));
            continue;
        }
        if (was_failing(t, h))
            hk_log_info("textfile directory readable again", "path", dir);
        for (size_t i = 0; i < names.n; i++) {
            char path[2 * MAX_PATH_BYTES + 16];
            if (!join_clean(path, sizeof(path), dir, names.v[i]))
                continue; /* cannot happen: dir and name are bounded */
            struct file_state *fs = file_state_get(t, path, true);
            const char *cpath = hk_arena_strndup(t->arena, path, strlen(path));
            if (!fs || !cpath ||
                !grow((void **)&t->cpaths, &t->capcpaths, t->ncpaths + 1, sizeof(*t->cpaths))) {
                close(dfd);
                r = -ENOMEM;
                goto out;
            }
            t->cpaths[t->ncpaths] = cpath;
            fs->seen = true;
            double mtime = -1;
            int k = process_file(t, ctx->b, dfd, names.v[i], fs, (uint32_t)t->ncpaths++,
                                 &mtime);
            if (k < 0) {
                close(dfd);
                r = k;
                goto out;
            }
            if (k == 0 || k == 3)
                errored = true;
            const char *v[] = {fs->path};
            if (mtime >= 0)
                hk_emit(ctx->b, &desc_mtime, v, mtime);
            if (k != 2)
                hk_emit(ctx->b, &desc_errors, v, (double)fs->errors);
        }
        close(dfd);
    }
    if ((r = merge_finish(t, ctx->b)) < 0)
        goto out;
    file_states_prune(t);
    if (t->skips_files != files_over_before) {
        errored = true;
        if (!t->too_many_files_logged) {
            char lim[24], over[24];
            snprintf(lim, sizeof(lim), "%llu", (unsigned long long)t->opt.max_files);
            snprintf(over, sizeof(over), "%llu",
                     (unsigned long long)(t->skips_files - files_over_before));
            hk_log_warn("more textfiles than max_files; the rest are not read", "max_files", lim,
                        "not_read", over);
        }
        t->too_many_files_logged = true;
    } else {
        t->too_many_files_logged = false;
    }
    if (nfailing > 1)
        qsort(failing, nfailing, sizeof(*failing), u64_cmp);
    free(t->dir_failing);
    t->dir_failing = failing;
    t->ndir_failing = nfailing;
    failing = NULL;
    {
        const char *lf[] = {"max_files"}, *ld[] = {"max_directories"};
        hk_emit(ctx->b, &desc_limit_skips, lf, (double)t->skips_files);
        hk_emit(ctx->b, &desc_limit_skips, ld, (double)t->skips_dirs);
        hk_emit(ctx->b, &desc_refused, NULL, (double)t->refused_families);
    }

emit_status:
    hk_emit(ctx->b, &desc_scrape_error, NULL, errored ? 1 : 0);
out:
    /* Big inputs are rare events per cycle: give their buffers back between cycles rather than
     * hold file-sized memory while idle (refilling them costs page faults, ~1 ms per 10 MB). */
    if (t->bufcap > TRIM_BYTES) {
        /* Into the big-block pool: the seal takes it back for the snapshot's series array. */
        hk_big_free(t->buf, t->bufcap);
        t->buf = NULL;
        t->bufcap = 0;
    }
    if (t->keys_cap > TRIM_BYTES) {
        free(t->keys);
        t->keys = NULL;
        t->keys_cap = 0;
    }
    hk_promtext_trim(&t->parser, TRIM_BYTES);
    strvec_free(&dirs);
    strvec_free(&names);
    free(failing);
    return r;
}

const struct hk_collector_ops hk_collector_textfile = {
    .name = "textfile",
    .help = "*.prom files from collectors.textfile.directory (globs; without one, only "
            "node_textfile_scrape_error 0)",
    .default_enabled = true,
    .check = textfile_check,
    .init = textfile_init,
    .collect = textfile_collect,
    .fini = textfile_fini,
};
