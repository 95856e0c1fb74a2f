# SPDX-License-Identifier: Apache-2.0
# Relabelling (exporter/relabel.c, exporter/relabel_regex.c): test vectors computed by Python's
# hashlib at build time (hashmod and the MD5 digests GnuTLS gives it), regex results recorded
# from Go's regexp (tools/relabel-oracle), and the libFuzzer target for regexes, templates and
# label input (`make fuzz`).

$(O)/gen/relabel_vectors.h: tests/unit/gen_relabel_vectors.py
	@mkdir -p $(@D)
	@echo "  GEN     $@"
	$(Q)python3 $< > $@.tmp && mv $@.tmp $@

$(O)/gen/relabel_go_cases.h: tests/unit/gen_relabel_go_cases.py tests/unit/relabel_go_cases.txt
	@mkdir -p $(@D)
	@echo "  GEN     $@"
	$(Q)python3 $^ > $@.tmp && mv $@.tmp $@

$(O)/tests/test_relabel: $(O)/gen/relabel_vectors.h $(O)/gen/relabel_go_cases.h

# libFuzzer build (FUZZ_CC, FUZZ_FLAGS: Makefile).
RELABEL_FUZZ_SRCS := tests/fuzz/fuzz_relabel.c exporter/relabel.c exporter/relabel_regex.c \
                     core/yaml.c core/labels.c core/buf.c core/log.c core/fsread.c

$(O)/fuzz/fuzz_relabel: $(RELABEL_FUZZ_SRCS) exporter/relabel.h exporter/relabel_internal.h \
                          exporter/relabel_regex.h
	@mkdir -p $(@D)
	@echo "  FUZZ/LD $@"
	$(Q)$(FUZZ_CC) $(CPPFLAGS) $(shell pkg-config --cflags libpcre2-8 yaml-0.1 gnutls) -std=gnu11 \
		$(FUZZ_FLAGS) -o $@ $(RELABEL_FUZZ_SRCS) \
		$(shell pkg-config --libs libpcre2-8 yaml-0.1 gnutls) -lm

FUZZ_STEPS += $(O)/fuzz/fuzz_relabel
