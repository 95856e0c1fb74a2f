# SPDX-License-Identifier: Apache-2.0
# Hardening: libFuzzer targets for the configuration readers (YAML tree, agent config, web-config,
# small scalar parsers), the remote-write answer readers and queue and the cgroup parsers, run by
# `make fuzz` / tests/fuzz/run.sh, seeded from tests/fuzz/corpus/<name>/ (FUZZ_CC and FUZZ_FLAGS
# are set in the Makefile); the ThreadSanitizer build of the agent and static analysis.
# fuzz_config links every library source (the config loader validates sections through their
# owners).
HARDEN_FUZZ_LIB := $(LIB_SRCS)

$(O)/fuzz/fuzz_yaml: tests/fuzz/fuzz_yaml.c $(wildcard core/*.c core/*.h) collector/loadavg.c
	@mkdir -p $(@D)
	@echo "  FUZZ/LD $@"
	$(Q)$(FUZZ_CC) $(CPPFLAGS) $(PKG_CFLAGS) -std=gnu11 $(FUZZ_FLAGS) -o $@ \
		$< $(wildcard core/*.c) collector/loadavg.c $(PKG_LIBS) $(EXTRA_LIBS)

# GEN_SRCS/GEN_HDRS are completed by mk/*.mk files read after this one (rw.mk): expand them late.
# GEN_SRCS names paths under $(O)/gen.
.SECONDEXPANSION:
$(O)/fuzz/fuzz_config: tests/fuzz/fuzz_config.c $(HARDEN_FUZZ_LIB) \
		$$(addprefix $(O)/gen/,$$(GEN_SRCS)) | $$(GEN_HDRS)
	@mkdir -p $(@D)
	@echo "  FUZZ/LD $@"
	$(Q)$(FUZZ_CC) $(CPPFLAGS) $(PKG_CFLAGS) -std=gnu11 $(FUZZ_FLAGS) -Wno-unused-command-line-argument -o $@ \
		$< $(HARDEN_FUZZ_LIB) $(addprefix $(O)/gen/,$(GEN_SRCS)) $(BIN_LIBS) $(PKG_LIBS) $(EXTRA_LIBS)

FUZZ_STEPS += $(O)/fuzz/fuzz_yaml $(O)/fuzz/fuzz_config

# Remote write: what the sender reads from a receiver (status, headers, body) and the durable
# queue's reader fed arbitrary segment and savepoint files (its records decoded as the sender does).
$(O)/fuzz/fuzz_rw_http: tests/fuzz/fuzz_rw_http.c exporter/rw_http.c exporter/rw_http.h core/buf.c
	@mkdir -p $(@D)
	@echo "  FUZZ/LD $@"
	$(Q)$(FUZZ_CC) $(CPPFLAGS) $(PKG_CFLAGS) -std=gnu11 $(FUZZ_FLAGS) -o $@ \
		$< exporter/rw_http.c core/buf.c $(PKG_LIBS) $(EXTRA_LIBS)

RW_QUEUE_FUZZ_SRCS := exporter/rw_queue.c exporter/rw_encode.c exporter/rw_decode.c exporter/rw_nhist.c \
                      core/buf.c core/log.c core/labels.c
$(O)/fuzz/fuzz_rw_queue: tests/fuzz/fuzz_rw_queue.c $(RW_QUEUE_FUZZ_SRCS) exporter/rw_queue.h \
		exporter/rw_encode.h $$(addprefix $(O)/gen/,$$(GEN_SRCS)) | $$(GEN_HDRS)
	@mkdir -p $(@D)
	@echo "  FUZZ/LD $@"
	$(Q)$(FUZZ_CC) $(CPPFLAGS) $(PKG_CFLAGS) -std=gnu11 $(FUZZ_FLAGS) -o $@ \
		$< $(RW_QUEUE_FUZZ_SRCS) $(addprefix $(O)/gen/,$(GEN_SRCS)) $(PKG_LIBS) $(EXTRA_LIBS)

FUZZ_STEPS += $(O)/fuzz/fuzz_rw_http $(O)/fuzz/fuzz_rw_queue

# The cgroup collector's parsers (once collector/cgroup_parse.c is in the tree).
ifneq ($(wildcard collector/cgroup_parse.c),)
CGROUP_FUZZ_SRCS := $(wildcard core/*.c) collector/cgroup_parse.c collector/kube.c \
                    collector/kubelet.c collector/filesystem.c collector/cgroupfs.c collector/node_common.c \
                    collector/netaddr.c collector/workload.c
$(O)/fuzz/fuzz_cgroup: tests/fuzz/fuzz_cgroup.c collector/cgroup_internal.h collector/cgroup_fs.h \
                       collector/netaddr.h collector/workload.h \
                       $(CGROUP_FUZZ_SRCS)
	@mkdir -p $(@D)
	@echo "  FUZZ/LD $@"
	$(Q)$(FUZZ_CC) $(CPPFLAGS) $(PKG_CFLAGS) -std=gnu11 $(FUZZ_FLAGS) -o $@ \
		$< $(CGROUP_FUZZ_SRCS) $(PKG_LIBS) $(EXTRA_LIBS)

FUZZ_STEPS += $(O)/fuzz/fuzz_cgroup
endif

# ---- ThreadSanitizer build of the agent (HTTP threads, scheduler, senders) ----
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

# Second expansion (enabled above): GEN_SRCS is completed by mk/*.mk files read after this one.
$(O)/hakari-tsan: $$(TSAN_OBJS)
	@echo "  LD      $@"
	$(Q)$(CC) $(CFLAGS) $(TSAN_FLAGS) -o $@ $^ $(BIN_LIBS) $(PKG_LIBS) $(EXTRA_LIBS)

check-tsan: $(O)/hakari-tsan
	$(Q)O=$(O) ONLY=tsan ./tests/run.sh all

# cppcheck and clang-tidy over core/ agent/ collector/ exporter/ (mk/analyze.sh; commented
# suppressions in mk/analysis-suppressions.txt and .clang-tidy).
analyze:
	$(Q)O=$(O) ./mk/analyze.sh
