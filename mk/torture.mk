# SPDX-License-Identifier: Apache-2.0
# Allocation-failure torture (tests/unit/torture.c): the sanitized library objects linked with
# malloc/calloc/realloc/strdup/strndup wrapped, so the harness can fail the Nth allocation of
# hakari's own code. Run by `make test` as a unit binary (bounded runs per scenario);
# `make torture` tries every allocation of every scenario.
TORTURE_WRAP := -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc,--wrap=strdup,--wrap=strndup

# ASAN_OBJS is defined after mk/*.mk are included: expanded at the second phase (mk/bpf.mk).
$(O)/tests/test_torture: tests/unit/torture.c $$(ASAN_OBJS)
	@mkdir -p $(@D)
	@echo "  TEST/LD $@"
	$(Q)$(CC) $(CPPFLAGS) $(PKG_CFLAGS) $(CFLAGS) -O1 $(SAN_FLAGS) -Wno-missing-prototypes \
		$(TORTURE_WRAP) -o $@ $< $(ASAN_OBJS) $(BIN_LIBS) $(PKG_LIBS) $(EXTRA_LIBS)

TEST_STEPS += $(O)/tests/test_torture

.PHONY: torture
torture: $(O)/tests/test_torture
	$(Q)TORTURE_MAX_RUNS=0 ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 ./$(O)/tests/test_torture
