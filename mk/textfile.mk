# SPDX-License-Identifier: Apache-2.0
# textfile collector: parse benchmark, fuzz target, remote-write benchmark against the peers.
# (Included before LIB_OBJS is defined, so the rules list their sources directly.)

TEXTFILE_BENCH_SRCS = bench/textfile_parse.c collector/promtext.c collector/textfile.c $(wildcard core/*.c)
$(O)/bench/textfile_parse: $(TEXTFILE_BENCH_SRCS)
	@mkdir -p $(@D)
	@echo "  BENCH   $@"
	$(Q)$(CC) $(CPPFLAGS) $(PKG_CFLAGS) $(CFLAGS) -o $@ $(TEXTFILE_BENCH_SRCS) $(PKG_LIBS) $(EXTRA_LIBS)
BENCH_STEPS += $(O)/bench/textfile_parse

$(O)/fuzz/fuzz_promtext: tests/fuzz/fuzz_promtext.c collector/promtext.c core/labels.c
	@mkdir -p $(@D)
	@echo "  FUZZ    $@"
	$(Q)$(FUZZ_CC) $(FUZZ_FLAGS) -I. -D_GNU_SOURCE -o $@ $^ -lm
FUZZ_STEPS += $(O)/fuzz/fuzz_promtext

.PHONY: bench-rw
# Remote-write cost on the peers' workload (hakari textfile + RW vs vmagent and Prometheus agent).
bench-rw: deps-bench
	$(Q)$(MAKE) --no-print-directory all
	$(Q)O=$(O) ./bench/rw_peers.sh
