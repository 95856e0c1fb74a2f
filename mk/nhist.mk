# SPDX-License-Identifier: Apache-2.0
# Native vs classic histograms benchmark (bench/nhist.sh, issue 15): series, bytes and render
# cost on a synthetic 200-container node. LIB_OBJS is expanded when the rule runs.
.SECONDEXPANSION:

$(O)/bench/nhist_bench: bench/nhist_bench.c $$(LIB_OBJS)
	@mkdir -p $(@D)
	@echo "  LD      $@"
	$(Q)$(CC) $(CPPFLAGS) $(PKG_CFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(BIN_LIBS) $(PKG_LIBS) $(EXTRA_LIBS)

BENCH_STEPS += $(O)/bench/nhist_bench
