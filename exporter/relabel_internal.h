/* SPDX-License-Identifier: Apache-2.0 */
/* Internals of exporter/relabel.c exposed for unit tests and the fuzzer: counters that prove the
 * steady state does not allocate. The RE2→pcre2 translation is in exporter/relabel_regex.h. */
#ifndef HK_RELABEL_INTERNAL_H
#define HK_RELABEL_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "exporter/relabel.h"

/* Matches that hit pcre2's match/depth/heap limit (the rule was then skipped for that series). */
uint64_t hk_relabel_limit_hits(const struct hk_relabel_rules *rules);
/* Matches that hit a limit but only needed a yes/no answer, which the DFA matcher then gave. */
uint64_t hk_relabel_dfa_fallbacks(const struct hk_relabel_rules *rules);
/* Allocations made by a result's storage so far (including pcre2's, via its general context). */
uint64_t hk_relabel_result_allocs(const struct hk_relabel_result *out);

#endif
