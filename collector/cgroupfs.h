/* SPDX-License-Identifier: Apache-2.0 */
/* What hakari knows about mounts and cgroup trees, written once for the cgroup, eBPF and
 * filesystem collectors: the mountinfo parser (with its octal unescaper and option-list
 * matcher), the cgroup mounts (v2, v1 per controller, hybrid), the subdirectory lister and tree
 * walker, the cgroup id → path index, and change notification on cgroup directories (inotify:
 * a directory is listed again only when a child was created, removed or renamed in it). */
#ifndef HK_CGROUPFS_H
#define HK_CGROUPFS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct hk_paths;

/* ---- mountinfo (proc_pid_mountinfo(5)) ---- */

/* One line: id parent major:minor root mountpoint options [optional…] - fstype source super.
 * Strings are decoded (\ooo escapes) and NUL-terminated, valid during the callback only; the
 * option lists are raw slices of the input (commas, no escapes matter for matching). */
struct hk_mount {
    const char *mountpoint;
    const char *fstype;
    const char *source;  /* "/dev/vda", "tmpfs", "none" */
    bool readonly;       /* "ro" in the per-mount options */
    const char *root;    /* the mounted subtree of the filesystem ("/" usually) */
    uint64_t id, parent; /* mount ids */
    uint32_t major, minor;
    const char *options; /* per-mount options (len options_len) */
    size_t options_len;
    const char *optional; /* "shared:1 master:3", possibly empty (len optional_len) */
    size_t optional_len;
    const char *super; /* per-superblock options ("rw,memory", "rw,nsdelegate") */
    size_t super_len;
};

typedef int (*hk_mountinfo_fn)(const struct hk_mount *mount, void *userdata);

/* Strict: the first malformed line stops the parse with -EINVAL. Else the callback's negative
 * return, or 0. fn may be NULL (validation only). */
int hk_mountinfo_parse(const char *buf, size_t len, hk_mountinfo_fn fn, void *userdata);

/* Where and why a parse failed: 1-based line and the field ("mount id", "mount point", …). */
struct hk_mountinfo_error {
    unsigned line;
    const char *field;
};
/* HK_MOUNTINFO_SKIP_BAD: malformed lines are skipped (counted in *ret_skipped when given) and
 * the parse goes on, for callers that look for one kind of mount in a file they did not write. */
#define HK_MOUNTINFO_SKIP_BAD 1u
int hk_mountinfo_scan(const char *buf, size_t len, unsigned flags, hk_mountinfo_fn fn,
                      void *userdata, struct hk_mountinfo_error *ret_err, unsigned *ret_skipped);

/* Decodes mountinfo's octal escapes (\ooo, as the kernel writes space, tab, newline and
 * backslash) of src into dst (cap bytes, NUL-terminated). Returns the length, -EINVAL for a bad
 * escape (not three octal digits, or \000), -ENOSPC when it does not fit. */
int hk_mountinfo_unescape(const char *src, size_t len, char *dst, size_t cap);

/* True if the comma-separated list (len bytes) holds word exactly ("cpu" is not in
 * "rw,cpuacct"). */
bool hk_mountinfo_opt_has(const char *list, size_t len, const char *word);

/* ---- cgroup mounts ---- */

enum hk_cg_ctrl {
    HK_CG_CPU,
    HK_CG_CPUACCT,
    HK_CG_MEMORY,
    HK_CG_BLKIO,
    HK_CG_PIDS,
    HK_CG_NCTRL,
};

struct hk_cg_mounts {
    /* Mount points as seen in mountinfo (absolute), "" when absent. */
    char v1[HK_CG_NCTRL][256];
    char v2[256];
    bool v2_has_memory; /* unknown from mountinfo; filled by discovery */
};

/* From mountinfo text: the first mount of each v1 controller and the first cgroup2 mount.
 * Malformed lines are skipped. Returns the number of cgroup mounts found. */
int hk_cgroupfs_parse_mounts(const char *buf, size_t len, struct hk_cg_mounts *ret);

/* The cgroup mounts of this host: from <procfs>/self/mountinfo, else the conventional layout
 * (cgroup2 at /sys/fs/cgroup if it has cgroup.controllers, else v1 per controller under
 * /sys/fs/cgroup/<ctrl> plus /sys/fs/cgroup/unified). Returns the number found in mountinfo
 * (0 when the conventional layout was assumed). */
int hk_cgroupfs_discover(const struct hk_paths *paths, struct hk_cg_mounts *ret);

/* Opens a mount point as mountinfo names it relative to the configured roots: "/sys/…" under
 * sysfs (a DaemonSet mounts the host's /sys there), anything else under rootfs. O_RDONLY |
 * O_DIRECTORY. Returns the descriptor or -errno. */
int hk_cgroupfs_open_mount(const struct hk_paths *paths, const char *mountpoint);

/* ---- directories ---- */

/* Calls fn for each subdirectory of dirfd (an O_RDONLY directory descriptor, read from the
 * start with getdents64): its name and inode number — on cgroupfs the cgroup id. fn returns
 * < 0 to stop (returned). Returns the number of subdirectories or -errno. */
typedef int (*hk_cgroupfs_subdir_fn)(const char *name, size_t name_len, uint64_t ino,
                                     void *userdata);
int hk_cgroupfs_subdirs(int dirfd, hk_cgroupfs_subdir_fn fn, void *userdata);

/* Visits every directory under root_dirfd depth first (the root first, as "/", then
 * "/a", "/a/b", …) up to max_depth levels; directories that vanish meanwhile are skipped. fn
 * returns < 0 to stop (returned). Returns 0 or -errno. */
typedef int (*hk_cgroupfs_walk_fn)(const char *path, uint64_t ino, void *userdata);
int hk_cgroupfs_walk(int root_dirfd, int max_depth, hk_cgroupfs_walk_fn fn, void *userdata);

/* ---- cgroup id → path index ---- */

struct hk_cgid_index;

struct hk_cgid_index *hk_cgid_index_new(void);
void hk_cgid_index_free(struct hk_cgid_index *idx); /* accepts NULL */
void hk_cgid_index_clear(struct hk_cgid_index *idx); /* frees every path, retired ones too */
/* Frees the paths a walk or a replacing add retired. Call where no looked-up path is held any
 * more (the eBPF collector: at the end of its collection). */
void hk_cgid_index_release(struct hk_cgid_index *idx);
/* Adds or replaces id → path (path relative to the hierarchy root, "/" for the root).
 * 0, -ENOMEM, -E2BIG (index full: HK_CGID_INDEX_MAX). */
int hk_cgid_index_add(struct hk_cgid_index *idx, uint64_t id, const char *path);
/* The path of id, or NULL. Valid until the next hk_cgid_index_release/clear/free: a walk or a
 * replacing add retires the old paths instead of freeing them (rows labelled earlier in the same
 * collection still point at them). */
const char *hk_cgid_index_lookup(const struct hk_cgid_index *idx, uint64_t id);
size_t hk_cgid_index_count(const struct hk_cgid_index *idx);
/* Calls fn for every entry (any order) until it returns < 0 (returned). */
int hk_cgid_index_foreach(const struct hk_cgid_index *idx,
                          int (*fn)(uint64_t id, const char *path, void *arg), void *arg);
/* Replaces the contents with every directory under the hierarchy root dirfd (the kernel's
 * cgroup id is the directory's inode number on 64-bit), depth ≤ 32, at most
 * HK_CGID_INDEX_MAX directories. Returns the number of entries or -errno. */
int hk_cgid_index_walk(struct hk_cgid_index *idx, int root_dirfd);
#define HK_CGID_INDEX_MAX 65536

/* ---- change notification ---- */

/* One inotify instance watching cgroup directories for children created, removed or renamed
 * (or files for writes: hk_cgroupfs_watch_add_file). Each watch carries a cookie (the caller's
 * node); hk_cgroupfs_watch_poll reports the cookies of what changed. A watch costs no
 * descriptor. */
struct hk_cgroupfs_watch;

/* Returns 0, or -errno when inotify is unavailable (callers then list every directory each
 * cycle, as before). */
int hk_cgroupfs_watch_new(struct hk_cgroupfs_watch **ret);
void hk_cgroupfs_watch_free(struct hk_cgroupfs_watch *w); /* accepts NULL */
/* Watches the directory dirfd refers to. Returns the watch id (≥ 0) or -errno (-ENOSPC: the
 * user's inotify watch limit is reached). */
int hk_cgroupfs_watch_add(struct hk_cgroupfs_watch *w, int dirfd, void *cookie);
/* Watches the file name in the directory dirfd for writes (IN_MODIFY: any write through any
 * mount of the hierarchy), and for being replaced or removed. Its events come to the same poll,
 * with gone once the file (or its cgroup) was removed. Returns the watch id or -errno (-ENOENT:
 * no such file, -ENOSPC: watch limit). */
int hk_cgroupfs_watch_add_file(struct hk_cgroupfs_watch *w, int dirfd, const char *name,
                               void *cookie);
/* Stops watching (the directory may already be gone: its watch ended by itself). */
void hk_cgroupfs_watch_rm(struct hk_cgroupfs_watch *w, int wd);
/* Reads the pending events without blocking: fn(cookie, gone, userdata) for each changed
 * directory (gone: the directory itself was removed and its watch ended; its cookie is not
 * reported again). Returns the number of events, HK_CGROUPFS_OVERFLOW when the kernel dropped
 * events (the caller must list everything again) or -errno. */
#define HK_CGROUPFS_OVERFLOW 0x40000000
typedef void (*hk_cgroupfs_change_fn)(void *cookie, bool gone, void *userdata);
int hk_cgroupfs_watch_poll(struct hk_cgroupfs_watch *w, hk_cgroupfs_change_fn fn, void *userdata);
size_t hk_cgroupfs_watch_count(const struct hk_cgroupfs_watch *w);

#endif
