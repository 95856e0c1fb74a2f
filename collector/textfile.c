/* node_exporter's textfile collector: batch jobs and cron scripts drop *.prom files (Prometheus
 * text format 0.0.4) into a directory; each cycle every file is read whole, checked for changes
 * during the read, parsed, and either emitted entirely or skipped entirely.
 * Reads: <rootfs>/<collectors.textfile.directory>/NAME.prom (the directory is resolved under
 * --path.rootfs like every other host path; with the default rootfs / it is the path as given).
 * Emits: the files' families (their HELP/TYPE; "Metric read from <path>" without HELP),
 * node_textfile_mtime_seconds{file}, node_textfile_scrape_error, hakari_textfile_errors_total{file}.
 * Inert (emits nothing) until a directory is configured. Skipped files are user data errors,
 * reported by the metrics above; like node_exporter (node_scrape_collector_success stays 1) they
 * do not count as collector errors in hakari_collector_errors_total. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
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
#define TRIM_BYTES (1u << 20)

static const char *const file_label[] = {"file", NULL};
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

struct options {
    char *directory; /* as configured; NULL or "" = inert */
    uint64_t max_file_bytes;
    uint64_t max_line_bytes;
    uint64_t max_files;
};

struct file_state {
    char *name;
    uint64_t errors;
    uint64_t err_hash; /* of the last error message, to log once per change */
    bool failing;
    bool seen;
};

struct textfile {
    struct options opt;
    char *dir_rel; /* relative to the rootfs fd */
    struct hk_promtext parser;
    char *buf;
    size_t bufcap;
    struct file_state *files; /* sorted by name */
    size_t nfiles, capfiles;
    struct hk_family_spec *specs;
    size_t capspecs;
    struct hk_label *labels;
    size_t caplabels;
    bool dir_failing;
    bool too_many_logged;
};

void (*hk_textfile_read_hook)(int dirfd, const char *name, int attempt);

/* ------------------------------------------------------------------ options */

static void options_free(struct options *o)
{
    free(o->directory);
    o->directory = NULL;
}

static int options_parse(const struct hk_yaml_node *n, struct options *o, struct hk_error *err)
{
    static const char *const keys[] = {HK_COLLECTOR_COMMON_KEYS, "directory", "max_file_size",
                                       "max_line_length", "max_files", NULL};
    *o = (struct options){NULL, DEFAULT_MAX_FILE_BYTES, HK_PROMTEXT_DEFAULT_MAX_LINE,
                          DEFAULT_MAX_FILES};
    int r = hk_yaml_check_keys(n, keys, err);
    if (r < 0)
        return r;
    const struct hk_yaml_node *v;
    if ((v = hk_yaml_get(n, "directory")) && !(v->kind == HK_YAML_SCALAR && v->plain_null)) {
        if ((r = hk_yaml_string(v, &o->directory, err)) < 0)
            return r;
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
    free(t->dir_rel);
    hk_promtext_fini(&t->parser);
    free(t->buf);
    for (size_t i = 0; i < t->nfiles; i++)
        free(t->files[i].name);
    free(t->files);
    free(t->specs);
    free(t->labels);
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
    if (t->opt.directory && *t->opt.directory) {
        const char *rel = t->opt.directory;
        while (*rel == '/')
            rel++;
        t->dir_rel = strdup(*rel ? rel : ".");
        if (!t->dir_rel) {
            textfile_fini(t);
            return -ENOMEM;
        }
    }
    hk_promtext_init(&t->parser, (size_t)t->opt.max_line_bytes,
                     env->config ? env->config->limits.max_series : 0);
    *ret_state = t;
    return 0;
}

static struct file_state *file_state_get(struct textfile *t, const char *name)
{
    size_t lo = 0, hi = t->nfiles;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(t->files[mid].name, name);
        if (c == 0)
            return &t->files[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (t->nfiles == t->capfiles) {
        size_t cap = t->capfiles ? t->capfiles * 2 : 16;
        struct file_state *f = realloc(t->files, cap * sizeof(*f));
        if (!f)
            return NULL;
        t->files = f;
        t->capfiles = cap;
    }
    char *copy = strdup(name);
    if (!copy)
        return NULL;
    memmove(&t->files[lo + 1], &t->files[lo], (t->nfiles - lo) * sizeof(*t->files));
    t->files[lo] = (struct file_state){.name = copy};
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
            free(t->files[i].name);
    }
    t->nfiles = k;
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
        char *nb = hk_big_realloc(*buf, 0, want); /* contents are read afresh */
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

/* ------------------------------------------------------------------ one file */

static uint64_t msg_hash(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ull;
    }
    return h;
}

static void report_error(struct file_state *fs, const char *path, unsigned line, const char *msg)
{
    fs->errors++;
    uint64_t h = msg_hash(msg) ^ line;
    if (!fs->failing || fs->err_hash != h) {
        char ln[16];
        snprintf(ln, sizeof(ln), "%u", line);
        if (line)
            hk_log_warn("textfile skipped", "file", path, "line", ln, "err", msg);
        else
            hk_log_warn("textfile skipped", "file", path, "err", msg);
    }
    fs->failing = true;
    fs->err_hash = h;
}

static int emit_file(struct textfile *t, struct hk_builder *b, const char *default_help)
{
    struct hk_promtext *p = &t->parser;
    if (p->nfamilies > t->capspecs) {
        struct hk_family_spec *s = realloc(t->specs, p->nfamilies * sizeof(*s));
        if (!s)
            return -ENOMEM;
        t->specs = s;
        t->capspecs = p->nfamilies;
    }
    for (size_t i = 0; i < p->nfamilies; i++) {
        const struct hk_promtext_family *f = &p->families[i];
        t->specs[i] = (struct hk_family_spec){f->name, f->help ? f->help : default_help, f->type,
                                              ""};
    }
    for (size_t i = 0; i < p->nsamples; i++) {
        struct hk_promtext_sample s;
        int r = hk_promtext_sample(p, i, &s);
        if (r < 0)
            return r;
        if (s.nlabels > t->caplabels) {
            struct hk_label *l = realloc(t->labels, s.nlabels * sizeof(*l));
            if (!l)
                return -ENOMEM;
            t->labels = l;
            t->caplabels = s.nlabels;
        }
        /* An empty label value is the same as no label in Prometheus: drop it. */
        size_t n = 0;
        for (size_t k = 0; k < s.nlabels; k++)
            if (s.labels[k].value[0])
                t->labels[n++] = s.labels[k];
        r = hk_emit_labels(b, &t->specs[s.family], s.name, t->labels, n, s.value, 0);
        if (r == -ENOMEM)
            return r;
        /* -E2BIG: the series cap, counted by the builder; -EINVAL cannot happen for input the
         * parser accepted, and one bad series must not hide the others. */
    }
    return 0;
}

/* Reads, parses and emits one file. Returns 1 when emitted, 0 when skipped (reported), 2 when
 * it vanished before it could be opened, or -ENOMEM. */
static int process_file(struct textfile *t, struct hk_builder *b, int dfd, struct file_state *fs,
                        const char *path, double *ret_mtime)
{
    struct stat st;
    long n = hk_textfile_read_stable(dfd, fs->name, (size_t)t->opt.max_file_bytes, &t->buf,
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
        report_error(fs, path, 0, msg);
        return 0;
    }
    struct hk_promtext *p = &t->parser;
    int r = hk_promtext_parse(p, t->buf, (size_t)n);
    if (r == -ENOMEM)
        return -ENOMEM;
    if (r < 0) {
        report_error(fs, path, p->err_line, p->err_msg);
        return 0;
    }
    if (p->timestamps) {
        report_error(fs, path, p->first_ts_line,
                     "contains unsupported client-side timestamps, skipping entire file");
        return 0;
    }
    char help[4096 + 300];
    snprintf(help, sizeof(help), "Metric read from %s", path);
    if ((r = emit_file(t, b, help)) < 0)
        return r;
    if (fs->failing)
        hk_log_info("textfile readable again", "file", path);
    fs->failing = false;
    /* n >= 0, so read_stable filled st (clang-tidy assumes a failed openat may leave errno 0):
     * NOLINTNEXTLINE(clang-analyzer-core.uninitialized.Assign) */
    *ret_mtime = (double)st.st_mtim.tv_sec;
    return 1;
}

/* ------------------------------------------------------------------ cycle */

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool is_prom(const char *name)
{
    size_t l = strlen(name);
    return l > 5 && memcmp(name + l - 5, ".prom", 5) == 0;
}

static void join_path(char *out, size_t cap, const char *dir, const char *name)
{
    size_t dl = strlen(dir);
    bool slash = dl > 0 && dir[dl - 1] == '/';
    snprintf(out, cap, "%s%s%s", dir, slash ? "" : "/", name);
}

static int textfile_collect(void *state, struct hk_collect_ctx *ctx)
{
    struct textfile *t = state;
    if (!t || !t->dir_rel)
        return 0; /* inert: no directory configured */
    int r = 0;
    bool errored = false;
    char **names = NULL;
    size_t nnames = 0, capnames = 0;
    double *mtimes = NULL;
    DIR *d = NULL;

    int dfd = openat(ctx->paths->root_fd, t->dir_rel, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        int dup_fd = dup(dfd);
        d = dup_fd >= 0 ? fdopendir(dup_fd) : NULL;
        if (!d && dup_fd >= 0)
            close(dup_fd);
    }
    if (!d) {
        int e = errno;
        if (!t->dir_failing)
            hk_log_warn("cannot read textfile directory", "path", t->opt.directory, "err",
                        strerror(e));
        t->dir_failing = true;
        errored = true;
        for (size_t i = 0; i < t->nfiles; i++)
            t->files[i].seen = false;
        file_states_prune(t);
        goto emit_status;
    }
    if (t->dir_failing)
        hk_log_info("textfile directory readable again", "path", t->opt.directory);
    t->dir_failing = false;

    struct dirent *de;
    bool too_many = false;
    while ((de = readdir(d))) {
        if (!is_prom(de->d_name))
            continue;
        if (nnames == t->opt.max_files) {
            too_many = true;
            continue;
        }
        if (nnames == capnames) {
            size_t cap = capnames ? capnames * 2 : 16;
            char **nn = realloc(names, cap * sizeof(*nn));
            if (!nn) {
                r = -ENOMEM;
                goto out;
            }
            names = nn;
            capnames = cap;
        }
        if (!(names[nnames] = strdup(de->d_name))) {
            r = -ENOMEM;
            goto out;
        }
        nnames++;
    }
    if (too_many) {
        if (!t->too_many_logged)
            hk_log_warn("more textfiles than max_files; the rest are ignored", "path",
                        t->opt.directory);
        t->too_many_logged = true;
        errored = true;
    } else {
        t->too_many_logged = false;
    }
    if (nnames > 1) /* names is NULL when there are none, and qsort(NULL, 0, …) is undefined */
        qsort(names, nnames, sizeof(*names), name_cmp);
    mtimes = calloc(nnames ? nnames : 1, sizeof(*mtimes));
    if (!mtimes) {
        r = -ENOMEM;
        goto out;
    }

    for (size_t i = 0; i < t->nfiles; i++)
        t->files[i].seen = false;
    for (size_t i = 0; i < nnames; i++) {
        struct file_state *fs = file_state_get(t, names[i]);
        if (!fs) {
            r = -ENOMEM;
            goto out;
        }
        fs->seen = true;
        char path[4096 + 280];
        join_path(path, sizeof(path), t->opt.directory, names[i]);
        mtimes[i] = -1;
        int k = process_file(t, ctx->b, dfd, fs, path, &mtimes[i]);
        if (k < 0) {
            r = k;
            goto out;
        }
        if (k == 0)
            errored = true;
    }
    file_states_prune(t);
    for (size_t i = 0; i < nnames; i++) {
        char path[4096 + 280];
        join_path(path, sizeof(path), t->opt.directory, names[i]);
        const char *v[] = {path};
        if (mtimes[i] >= 0)
            hk_emit(ctx->b, &desc_mtime, v, mtimes[i]);
        const struct file_state *fs = file_state_get(t, names[i]);
        if (fs)
            hk_emit(ctx->b, &desc_errors, v, (double)fs->errors);
    }

emit_status:
    hk_emit(ctx->b, &desc_scrape_error, NULL, errored ? 1 : 0);
out:
    /* Big inputs are rare events per cycle: give their buffers back between cycles rather than
     * hold file-sized memory while idle (refilling them costs page faults, ~1 ms per 10 MB). */
    if (t->bufcap > TRIM_BYTES) {
        free(t->buf);
        t->buf = NULL;
        t->bufcap = 0;
    }
    hk_promtext_trim(&t->parser, TRIM_BYTES);
    for (size_t i = 0; i < nnames; i++)
        free(names[i]);
    free(names);
    free(mtimes);
    if (d)
        closedir(d);
    if (dfd >= 0)
        close(dfd);
    return r;
}

const struct hk_collector_ops hk_collector_textfile = {
    .name = "textfile",
    .help = "*.prom files from collectors.textfile.directory (inert until it is set)",
    .default_enabled = true,
    .check = textfile_check,
    .init = textfile_init,
    .collect = textfile_collect,
    .fini = textfile_fini,
};
