# SPDX-License-Identifier: Apache-2.0
# Node collectors: libFuzzer target for their procfs parsers (`make fuzz`), seeded from the
# node-basic and node-upstream fixtures (tests/fuzz/corpus/node_parsers/).
NODE_FUZZ_SRCS := tests/fuzz/fuzz_node_parsers.c \
                  $(addprefix collector/,cpu.c meminfo.c pressure.c netdev.c diskstats.c \
                      filesystem.c cgroupfs.c machine.c node_common.c \
                      vmstat.c netstat.c sockstat.c softnet.c filefd.c conntrack.c node_filter.c \
                      node_file.c) \
                  $(wildcard core/*.c)

$(O)/fuzz/fuzz_node_parsers: $(NODE_FUZZ_SRCS) collector/node_parsers.h
	@mkdir -p $(@D)
	@echo "  FUZZ/LD $@"
	$(Q)$(FUZZ_CC) $(CPPFLAGS) $(PKG_CFLAGS) -std=gnu11 $(FUZZ_FLAGS) -o $@ \
		$(NODE_FUZZ_SRCS) $(PKG_LIBS) $(EXTRA_LIBS)

FUZZ_STEPS += $(O)/fuzz/fuzz_node_parsers

# In-process benchmark of the node collectors (bench/node_collectors.sh runs it).
$(O)/bench/bench_node: bench/bench_node.c $$(LIB_OBJS)
	@mkdir -p $(@D)
	@echo "  LD      $@"
	$(Q)$(CC) $(CPPFLAGS) $(PKG_CFLAGS) $(CFLAGS) -o $@ $< $(LIB_OBJS) $(BIN_LIBS) $(PKG_LIBS) \
		$(EXTRA_LIBS)

BENCH_STEPS += $(O)/bench/bench_node

# nodesys: libFuzzer target for the sysfs attribute and os-release parsers (netclass, time, os),
# seeded from tests/fuzz/corpus/node_sys/.
NODE_SYS_FUZZ_SRCS := tests/fuzz/fuzz_node_sys.c \
                      $(addprefix collector/,netclass.c os.c node_common.c) $(wildcard core/*.c)

$(O)/fuzz/fuzz_node_sys: $(NODE_SYS_FUZZ_SRCS) collector/node_parsers.h
	@mkdir -p $(@D)
	@echo "  FUZZ/LD $@"
	$(Q)$(FUZZ_CC) $(CPPFLAGS) $(PKG_CFLAGS) -std=gnu11 $(FUZZ_FLAGS) -o $@ \
		$(NODE_SYS_FUZZ_SRCS) $(PKG_LIBS) $(EXTRA_LIBS)

FUZZ_STEPS += $(O)/fuzz/fuzz_node_sys
