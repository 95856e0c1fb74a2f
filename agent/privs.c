/* SPDX-License-Identifier: Apache-2.0 */
/* Capability dropping and user switch, with libcap. */
#include "agent/privs.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "core/log.h"

static const cap_value_t keep_caps[] = {CAP_SYS_PTRACE, CAP_DAC_READ_SEARCH};
#define NKEEP (sizeof(keep_caps) / sizeof(keep_caps[0]))

static int lookup_user(const char *spec, uid_t *uid, gid_t *gid, struct hk_error *err)
{
    struct passwd pw, *res = NULL;
    char buf[4096];
    char *end;
    errno = 0;
    unsigned long n = strtoul(spec, &end, 10);
    if (*spec && !*end && errno == 0) {
        getpwuid_r((uid_t)n, &pw, buf, sizeof(buf), &res);
        *uid = (uid_t)n;
        *gid = res ? res->pw_gid : (gid_t)n;
        return 0;
    }
    getpwnam_r(spec, &pw, buf, sizeof(buf), &res);
    if (!res) {
        snprintf(err->msg, sizeof(err->msg), "--runas.user: no such user \"%s\"", spec);
        return -ENOENT;
    }
    *uid = res->pw_uid;
    *gid = res->pw_gid;
    return 0;
}

int hk_privs_check(const char *runas_user, struct hk_error *err)
{
    uid_t uid;
    gid_t gid;
    return runas_user ? lookup_user(runas_user, &uid, &gid, err) : 0;
}

static bool have_cap(cap_t caps, cap_value_t c)
{
    cap_flag_value_t v = CAP_CLEAR;
    cap_get_flag(caps, c, CAP_PERMITTED, &v);
    return v == CAP_SET;
}

int hk_privs_drop(const char *runas_user, struct hk_error *err)
{
    int r = 0;
    cap_t caps = NULL;
    uid_t uid = 0;
    gid_t gid = 0;
    if (runas_user && (r = lookup_user(runas_user, &uid, &gid, err)) < 0)
        return r;
    caps = cap_get_proc();
    if (!caps)
        return -errno;
    /* The kept capabilities we actually hold now (an unprivileged start keeps nothing). */
    cap_value_t held[NKEEP];
    int nheld = 0;
    for (size_t i = 0; i < NKEEP; i++)
        if (have_cap(caps, keep_caps[i]))
            held[nheld++] = keep_caps[i];
    bool can_setpcap = have_cap(caps, CAP_SETPCAP);
    cap_free(caps);
    caps = NULL;

    /* Bounding set: drop everything not kept (needs CAP_SETPCAP; without it there is nothing we
     * could regain anyway). */
    if (can_setpcap) {
        for (cap_value_t c = 0; c <= CAP_LAST_CAP; c++) {
            bool keep = false;
            for (int i = 0; i < nheld; i++)
                keep |= held[i] == c;
            if (!keep && prctl(PR_CAPBSET_READ, c, 0, 0, 0) == 1 &&
                prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0) {
                r = -errno;
                snprintf(err->msg, sizeof(err->msg), "cannot drop capability %d from bounding set: %s",
                         c, strerror(errno));
                goto out;
            }
        }
    }
    if (runas_user && getuid() != uid) {
        if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0 || setgroups(0, NULL) < 0 ||
            setresgid(gid, gid, gid) < 0 || setresuid(uid, uid, uid) < 0) {
            r = -errno;
            snprintf(err->msg, sizeof(err->msg), "--runas.user %s: cannot switch user: %s",
                     runas_user, strerror(errno));
            goto out;
        }
        prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0);
    }
    caps = cap_init();
    if (!caps) {
        r = -errno;
        goto out;
    }
    if (nheld > 0 && (cap_set_flag(caps, CAP_PERMITTED, nheld, held, CAP_SET) < 0 ||
                      cap_set_flag(caps, CAP_EFFECTIVE, nheld, held, CAP_SET) < 0)) {
        r = -errno;
        goto out;
    }
    if (cap_set_proc(caps) < 0) {
        r = -errno;
        snprintf(err->msg, sizeof(err->msg), "cannot set capabilities: %s", strerror(errno));
        goto out;
    }
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
        r = -errno;
        snprintf(err->msg, sizeof(err->msg), "cannot set no_new_privs: %s", strerror(errno));
        goto out;
    }
    char *text = NULL;
    cap_free(caps);
    caps = cap_get_proc();
    if (caps)
        text = cap_to_text(caps, NULL);
    char uidbuf[32];
    snprintf(uidbuf, sizeof(uidbuf), "%u", (unsigned)getuid());
    hk_log_info("privileges dropped", "uid", uidbuf, "capabilities", text ? text : "?",
                "no_new_privs", "1");
    if (text)
        cap_free(text);
out:
    if (caps)
        cap_free(caps);
    return r;
}
