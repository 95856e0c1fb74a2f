/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer target for the Prometheus text parser (collector/promtext.c): any input must either be
 * rejected with a line number and message, or be accepted with every recorded sample decodable
 * into valid names and UTF-8 label values. */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "collector/promtext.h"
#include "core/labels.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* Exact-size copy so ASan catches any read past the end. */
    char *buf = malloc(size ? size : 1);
    if (!buf)
        return 0;
    memcpy(buf, data, size);
    struct hk_promtext p;
    hk_promtext_init(&p, 256, 1000);
    int r = hk_promtext_parse(&p, buf, size);
    if (r < 0) {
        assert(p.err_msg[0] != '\0');
    } else {
        for (size_t i = 0; i < p.nfamilies; i++)
            assert(hk_metric_name_valid(p.families[i].name, strlen(p.families[i].name)));
        for (size_t i = 0; i < p.nsamples; i++) {
            struct hk_promtext_sample s;
            if (hk_promtext_sample(&p, i, &s) < 0)
                break;
            assert(s.family < p.nfamilies);
            assert(hk_metric_name_valid(s.name, strlen(s.name)));
            for (size_t k = 0; k < s.nlabels; k++) {
                assert(hk_label_name_valid(s.labels[k].name, strlen(s.labels[k].name)));
                assert(hk_utf8_valid(s.labels[k].value, strlen(s.labels[k].value)));
            }
        }
    }
    hk_promtext_fini(&p);
    free(buf);
    return 0;
}
