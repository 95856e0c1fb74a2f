/* SPDX-License-Identifier: Apache-2.0 */
/* Seeds the TCP probe's container_tcp_active_connections with connections that were already
 * established when the probe attached: lists them with netlink sock_diag (IPv4 and IPv6,
 * state ESTABLISHED) and attributes each to a cgroup — on cgroup2 by INET_DIAG_CGROUP_ID, on v1
 * hosts through the process holding the socket (each <procfs>/<pid>/fd entry → "socket:[inode]",
 * <procfs>/<pid>/cgroup → cpu path → directory inode = cgroup id). Bounded: at most
 * SEED_MAX_SOCKS sockets, SEED_MAX_PIDS processes and SEED_MAX_FDS descriptors are examined. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "collector/ebpf_internal.h"
#include "core/parse.h"

#define TCP_ESTABLISHED_STATE 1

int hk_ebpf_diag_parse(const void *buf, size_t len,
                       int (*fn)(const struct hk_tcp_sock *s, void *arg), void *arg)
{
    const struct nlmsghdr *h = buf;
    size_t left = len;
    while (NLMSG_OK(h, left)) {
        if (h->nlmsg_type == NLMSG_DONE)
            return 1;
        if (h->nlmsg_type == NLMSG_ERROR) {
            const struct nlmsgerr *e = NLMSG_DATA(h);
            if (h->nlmsg_len < NLMSG_LENGTH(sizeof(*e)))
                return -EINVAL;
            return e->error < 0 ? e->error : -EPROTO;
        }
        if (h->nlmsg_type == SOCK_DIAG_BY_FAMILY &&
            h->nlmsg_len >= NLMSG_LENGTH(sizeof(struct inet_diag_msg))) {
            const struct inet_diag_msg *m = NLMSG_DATA(h);
            struct hk_tcp_sock s = {
                m->idiag_inode,
                (uint64_t)m->id.idiag_cookie[0] | ((uint64_t)m->id.idiag_cookie[1] << 32), 0};
            /* Attributes follow the message, each 4-byte aligned. */
            size_t off = NLMSG_LENGTH(sizeof(*m));
            off = (off + 3) & ~(size_t)3;
            while (off + sizeof(struct nlattr) <= h->nlmsg_len) {
                const struct nlattr *a = (const void *)((const char *)h + off);
                if (a->nla_len < sizeof(*a) || off + a->nla_len > h->nlmsg_len)
                    break;
                if ((a->nla_type & NLA_TYPE_MASK) == INET_DIAG_CGROUP_ID &&
                    a->nla_len >= sizeof(*a) + sizeof(uint64_t))
                    memcpy(&s.cgroup2_id, (const char *)a + NLA_HDRLEN, sizeof(uint64_t));
                off += (a->nla_len + 3u) & ~3u;
            }
            int r = fn(&s, arg);
            if (r < 0)
                return r;
        }
        h = NLMSG_NEXT(h, left);
    }
    return 0;
}

int hk_ebpf_proc_cgroup_path(const char *buf, size_t len, const char *controller, char *ret,
                             size_t cap)
{
    struct hk_cursor c;
    const char *line;
    size_t ll;
    hk_cursor_init(&c, buf, len);
    while (hk_cursor_line(&c, &line, &ll)) {
        /* hierarchy-id:controller,list:path — the path may itself contain ':' */
        const char *c1 = memchr(line, ':', ll);
        if (!c1)
            return -EINVAL;
        const char *c2 = memchr(c1 + 1, ':', (size_t)(line + ll - c1 - 1));
        if (!c2)
            return -EINVAL;
        const char *list = c1 + 1;
        size_t listlen = (size_t)(c2 - list), wl = strlen(controller);
        bool match = false;
        if (!wl) {
            match = listlen == 0 && c1 - line == 1 && line[0] == '0';
        } else {
            for (const char *p = list; p < c2;) {
                const char *e = memchr(p, ',', (size_t)(c2 - p));
                size_t n = e ? (size_t)(e - p) : (size_t)(c2 - p);
                if (n == wl && !memcmp(p, controller, n))
                    match = true;
                p += n + 1;
            }
        }
        if (!match)
            continue;
        size_t pl = (size_t)(line + ll - c2 - 1);
        if (pl == 0 || pl + 1 > cap)
            return -EINVAL;
        memcpy(ret, c2 + 1, pl);
        ret[pl] = '\0';
        return 0;
    }
    return -ENOENT;
}

int hk_ebpf_socket_inode(const char *link, size_t len, uint64_t *ret)
{
    if (len < 10 || memcmp(link, "socket:[", 8) != 0 || link[len - 1] != ']')
        return -EINVAL;
    return hk_parse_u64(link + 8, len - 9, ret);
}

#define SEED_MAX_SOCKS 65536
#define SEED_MAX_PIDS 65536
#define SEED_MAX_FDS (1 << 20)

struct sock_list {
    struct hk_tcp_sock *v;
    size_t n, cap;
};

static int collect_sock(const struct hk_tcp_sock *s, void *arg)
{
    struct sock_list *l = arg;
    if (l->n >= SEED_MAX_SOCKS)
        return 0;
    if (l->n == l->cap) {
        size_t nc = l->cap ? l->cap * 2 : 256;
        struct hk_tcp_sock *nv = realloc(l->v, nc * sizeof(*nv));
        if (!nv)
            return -ENOMEM;
        l->v = nv;
        l->cap = nc;
    }
    l->v[l->n++] = *s;
    return 0;
}

/* Dumps established TCP sockets of one family into l. */
static int diag_dump(int family, struct sock_list *l)
{
    int fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
    if (fd < 0)
        return -errno;
    struct {
        struct nlmsghdr h;
        struct inet_diag_req_v2 r;
    } req;
    memset(&req, 0, sizeof(req));
    req.h.nlmsg_len = sizeof(req);
    req.h.nlmsg_type = SOCK_DIAG_BY_FAMILY;
    req.h.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
    req.r.sdiag_family = (uint8_t)family;
    req.r.sdiag_protocol = IPPROTO_TCP;
    req.r.idiag_states = 1u << TCP_ESTABLISHED_STATE;
    int r = 0;
    char *buf = malloc(32768);
    if (!buf) {
        r = -ENOMEM;
        goto out;
    }
    if (send(fd, &req, sizeof(req), 0) < 0) {
        r = -errno;
        goto out;
    }
    for (int i = 0; i < 100000; i++) {
        ssize_t n = recv(fd, buf, 32768, 0);
        if (n < 0) {
            r = errno == EINTR ? 0 : -errno;
            if (r < 0)
                goto out;
            continue;
        }
        if (n == 0)
            break;
        r = hk_ebpf_diag_parse(buf, (size_t)n, collect_sock, l);
        if (r != 0)
            break;
    }
    r = r < 0 ? r : 0;
out:
    free(buf);
    close(fd);
    return r;
}

static int cmp_inode(const void *a, const void *b)
{
    uint64_t x = ((const struct hk_tcp_sock *)a)->inode, y = ((const struct hk_tcp_sock *)b)->inode;
    return x < y ? -1 : x > y;
}

/* v1: cgroup id of a process in the hierarchy at hier_fd (the directory's inode), 0 if unknown. */
static uint64_t pid_cgid(int proc_fd, const char *pid, int hier_fd, const char *controller)
{
    char path[300], buf[4096], cg[4096];
    snprintf(path, sizeof(path), "%s/cgroup", pid);
    ssize_t n = hk_read_file_at(proc_fd, path, buf, sizeof(buf));
    if (n < 0 || hk_ebpf_proc_cgroup_path(buf, (size_t)n, controller, cg, sizeof(cg)) < 0)
        return 0;
    struct stat st;
    const char *rel = cg[1] ? cg + 1 : ".";
    if (fstatat(hier_fd, rel, &st, 0) < 0)
        return 0;
    return (uint64_t)st.st_ino;
}

void hk_ebpf_tcp_attribute_v1(struct hk_tcp_sock *socks, size_t nsocks, int proc_fd, int hier_fd,
                              const char *controller)
{
    /* Nothing to attribute, and socks may be NULL: bsearch(…, NULL, 0, …) is undefined. */
    if (nsocks == 0)
        return;
    int dfd = openat(proc_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
    if (!d) {
        if (dfd >= 0)
            close(dfd);
        return;
    }
    if (nsocks > 1)
        qsort(socks, nsocks, sizeof(*socks), cmp_inode);
    size_t pids = 0, fds = 0;
    struct dirent *de;
    while ((de = readdir(d)) && pids < SEED_MAX_PIDS && fds < SEED_MAX_FDS) {
        if (de->d_name[0] < '1' || de->d_name[0] > '9' || strlen(de->d_name) > 20)
            continue;
        pids++;
        char path[300];
        snprintf(path, sizeof(path), "%s/fd", de->d_name);
        int ffd = openat(proc_fd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        DIR *fdir = ffd >= 0 ? fdopendir(ffd) : NULL;
        if (!fdir) {
            if (ffd >= 0)
                close(ffd);
            continue;
        }
        uint64_t id = 0;
        bool looked = false;
        struct dirent *fe;
        while ((fe = readdir(fdir)) && fds < SEED_MAX_FDS) {
            if (fe->d_name[0] == '.')
                continue;
            fds++;
            char link[64];
            ssize_t n = readlinkat(dirfd(fdir), fe->d_name, link, sizeof(link) - 1);
            uint64_t ino;
            if (n <= 0 || hk_ebpf_socket_inode(link, (size_t)n, &ino) < 0)
                continue;
            struct hk_tcp_sock key = {ino, 0, 0};
            struct hk_tcp_sock *s = bsearch(&key, socks, nsocks, sizeof(*socks), cmp_inode);
            if (!s || s->cgroup2_id)
                continue;
            if (!looked) {
                id = pid_cgid(proc_fd, de->d_name, hier_fd, controller);
                looked = true;
            }
            s->cgroup2_id = id;
        }
        closedir(fdir);
    }
    closedir(d);
}

int hk_ebpf_tcp_seed(const struct hk_ebpf_env *env,
                     int (*fn)(uint64_t cookie, uint64_t id, void *arg), void *arg);

/* Calls fn(cookie, owner id) for every established TCP socket whose owner is known. */
int hk_ebpf_tcp_seed(const struct hk_ebpf_env *env,
                     int (*fn)(uint64_t cookie, uint64_t id, void *arg), void *arg)
{
    struct sock_list l = {0};
    int r = diag_dump(AF_INET, &l);
    if (r == 0)
        r = diag_dump(AF_INET6, &l);
    if (r < 0)
        goto out;
    const struct hk_hierarchy *h = &env->hier[HK_HIER_CPU];
    if (h->v1) {
        for (size_t i = 0; i < l.n; i++)
            l.v[i].cgroup2_id = 0;
        if (h->dirfd >= 0)
            hk_ebpf_tcp_attribute_v1(l.v, l.n, env->paths->proc_fd, h->dirfd, "cpu");
    }
    for (size_t i = 0; i < l.n && r >= 0; i++)
        if (l.v[i].cgroup2_id)
            r = fn(l.v[i].cookie, l.v[i].cgroup2_id, arg);
out:
    free(l.v);
    return r;
}
