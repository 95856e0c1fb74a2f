# Node collectors: libFuzzer target for their procfs parsers (`make fuzz`), seeded from the
# node-basic fixture (tests/fuzz/corpus/node_parsers/).
NODE_FUZZ_SRCS := tests/fuzz/fuzz_node_parsers.c \
                  $(addprefix collector/,cpu.c meminfo.c pressure.c netdev.c diskstats.c \
                      filesystem.c machine.c node_common.c) \
                  $(wildcard core/*.c)

$(O)/fuzz/fuzz_node_parsers: $(NODE_FUZZ_SRCS) collector/node_parsers.h
	@mkdir -p $(@D)
	@echo "  FUZZ/LD $@"
	$(Q)$(FUZZ_CC) $(CPPFLAGS) $(PKG_CFLAGS) -std=gnu11 $(FUZZ_FLAGS) -o $@ \
		$(NODE_FUZZ_SRCS) $(PKG_LIBS) $(EXTRA_LIBS)

FUZZ_STEPS += $(O)/fuzz/fuzz_node_parsers

# In-process benchmark of the node collectors (bench/node_collectors.sh runs it).
$(O)/bench/bench_node: bench/bench_node.c $(LIB_OBJS)
	@mkdir -p $(@D)
	@echo "  LD      $@"
	$(Q)$(CC) $(CPPFLAGS) $(PKG_CFLAGS) $(CFLAGS) -o $@ $< $(LIB_OBJS) $(BIN_LIBS) $(PKG_LIBS) \
		$(EXTRA_LIBS)

BENCH_STEPS += $(O)/bench/bench_node
