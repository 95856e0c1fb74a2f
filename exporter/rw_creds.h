/* SPDX-License-Identifier: Apache-2.0 */
/* Remote-write credentials that change while hakari runs: secret files (basic_auth password_file,
 * authorization credentials_file, oauth2 client_secret_file) re-read when the file changes, and
 * the AWS SigV4 key chain (config keys, environment, shared credentials file, IRSA web identity
 * through STS AssumeRoleWithWebIdentity, sigv4.role_arn through STS AssumeRole) renewed before
 * it expires. Files read: the secret files, the shared credentials file (AWS_SHARED_CREDENTIALS_FILE
 * or ~/.aws/credentials), AWS_WEB_IDENTITY_TOKEN_FILE. Used by the sender thread only; no function
 * here logs a secret. */
#ifndef HK_RW_CREDS_H
#define HK_RW_CREDS_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "exporter/rw_config.h"

#define HK_RW_SECRET_MAX 65536
#define HK_RW_SECRET_CHECK_MS 1000 /* a secret file is stat'ed at most this often */

/* Reads a secret file (≤ 64 KiB, trailing white space cut) into *ret (malloc'd). -EINVAL for a
 * non-regular file, -EFBIG when larger, else -errno. */
int hk_rw_read_secret(const char *path, char **ret);

/* A secret kept in step with its file: identity (device, inode, size, mtime) checked at most every
 * HK_RW_SECRET_CHECK_MS, content re-read when it changed. */
struct hk_rw_secret {
    char *path;  /* owned */
    char *value; /* owned; the last content read successfully */
    dev_t dev;
    ino_t ino;
    off_t size;
    int64_t mtime_ns;
    int64_t next_check_ms;
    int last_err; /* logged once per change */
};

/* initial: the value read at config load (copied), used until the file can be read again. */
int hk_rw_secret_init(struct hk_rw_secret *s, const char *path, const char *initial);
/* Returns 1 when the value changed, 0 when not (or the file cannot be read: the old value stays,
 * logged once). force: check now whatever the time. */
int hk_rw_secret_poll(struct hk_rw_secret *s, int64_t now_ms, bool force, const char *remote_name);
void hk_rw_secret_free(struct hk_rw_secret *s);

struct hk_rw_aws;
/* Picks the source as the AWS SDKs do: sigv4.access_key/secret_key; else AWS_ACCESS_KEY_ID and
 * AWS_SECRET_ACCESS_KEY (unless sigv4.profile); else web identity (AWS_ROLE_ARN and
 * AWS_WEB_IDENTITY_TOKEN_FILE); else the shared credentials file (profile, AWS_PROFILE or
 * "default"). sigv4.role_arn assumes that role with those as base credentials. STS endpoint:
 * AWS_ENDPOINT_URL_STS, else AWS_ENDPOINT_URL, else https://sts.REGION.amazonaws.com. Static
 * keys and the shared credentials file are read here (-ENOKEY, logged, when missing); STS is
 * first called by the first hk_rw_aws_refresh, from the sender's thread. */
int hk_rw_aws_new(const struct hk_rw_config *c, struct hk_rw_aws **ret);
/* Brings the credentials up to date: files re-checked at most every HK_RW_SECRET_CHECK_MS, STS
 * credentials renewed 10% of their lifetime (at most 5 min) before they expire; on STS failure
 * the old ones are kept and the call retried with backoff. force (after a 401/403): check files
 * now and renew STS credentials unless renewed in the last 10 s. Returns 1 changed, 0 not,
 * -ENOKEY when there are no credentials at all. */
int hk_rw_aws_refresh(struct hk_rw_aws *a, bool force);
/* "ACCESS_KEY:SECRET" for CURLOPT_USERPWD, and "X-Amz-Security-Token: ..." or NULL. Valid until
 * the next refresh. */
const char *hk_rw_aws_userpwd(const struct hk_rw_aws *a);
const char *hk_rw_aws_token_header(const struct hk_rw_aws *a);
/* Monotonic ms (hk_rw_now_ms) when STS keys are next due for renewal or retry; INT64_MAX if
 * never (the sender's poll wakes up for it). */
int64_t hk_rw_aws_due_ms(const struct hk_rw_aws *a);
/* Whether the credentials can change at run time (file or STS). */
bool hk_rw_aws_rotates(const struct hk_rw_aws *a);
void hk_rw_aws_free(struct hk_rw_aws *a);

/* For tests: parses an STS AssumeRole(WithWebIdentity) response. Expiration → *expiry_s (Unix). */
int hk_rw_sts_parse(const char *xml, char **ak, char **sk, char **tok, int64_t *expiry_s);

#endif
