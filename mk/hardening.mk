# ThreadSanitizer build of the agent (HTTP threads, scheduler, senders) and static analysis.
TSAN_OBJS = $(patsubst %.c,$(O)/tsan/%.o,$(LIB_SRCS) $(GEN_SRCS) agent/main.c)
TSAN_FLAGS := -fsanitize=thread -fno-omit-frame-pointer

.PHONY: check-tsan analyze

$(O)/tsan/%.o: %.c | $(GEN_HDRS)
	@mkdir -p $(@D)
	@echo "  CC/TSAN $<"
	$(Q)$(CC) $(CPPFLAGS) $(PKG_CFLAGS) $(CFLAGS) -O1 $(TSAN_FLAGS) -c -o $@ $<

$(O)/tsan/%.o: $(O)/gen/%.c | $(GEN_HDRS)
	@mkdir -p $(@D)
	@echo "  CC/TSAN $<"
	$(Q)$(CC) $(CPPFLAGS) $(PKG_CFLAGS) $(CFLAGS) -O1 $(TSAN_FLAGS) -Wno-missing-prototypes -c -o $@ $<

# Second expansion: GEN_SRCS is completed by mk/*.mk files read after this one.
.SECONDEXPANSION:
$(O)/hakari-tsan: $$(TSAN_OBJS)
	@echo "  LD      $@"
	$(Q)$(CC) $(CFLAGS) $(TSAN_FLAGS) -o $@ $^ $(BIN_LIBS) $(PKG_LIBS) $(EXTRA_LIBS)

check-tsan: $(O)/hakari-tsan
	$(Q)O=$(O) ONLY=tsan ./tests/run.sh all

# cppcheck and clang-tidy over core/ agent/ collector/ exporter/ (mk/analyze.sh; commented
# suppressions in mk/analysis-suppressions.txt and .clang-tidy).
analyze:
	$(Q)O=$(O) ./mk/analyze.sh
