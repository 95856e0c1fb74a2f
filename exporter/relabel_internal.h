/* Internals of exporter/relabel.c exposed for unit tests and the fuzzer: the RE2→pcre2 regex
 * translation and counters that prove the steady state does not allocate. */
#ifndef HK_RELABEL_INTERNAL_H
#define HK_RELABEL_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "exporter/relabel.h"

/* Translates a Go/RE2 regular expression (already wrapped by the caller if it wants anchors)
 * into an equivalent pcre2 pattern, rejecting what RE2 lacks (backreferences, lookaround,
 * atomic groups, possessive and nested quantifiers, recursion, verbs, \K \G \Z …).
 * Returns 0, -EINVAL (reason in err), or -ENOMEM/-E2BIG from the buffer. */
int hk_relabel_translate_regex(const char *re, size_t len, struct hk_buf *out, char *err,
                               size_t errlen);

/* Matches that hit pcre2's match/depth/heap limit (the rule was then skipped for that series). */
uint64_t hk_relabel_limit_hits(const struct hk_relabel_rules *rules);
/* Matches that hit a limit but only needed a yes/no answer, which the DFA matcher then gave. */
uint64_t hk_relabel_dfa_fallbacks(const struct hk_relabel_rules *rules);
/* Allocations made by a result's storage so far (including pcre2's, via its general context). */
uint64_t hk_relabel_result_allocs(const struct hk_relabel_result *out);

#endif
