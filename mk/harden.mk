# Hardening: libFuzzer targets for the configuration readers (YAML tree, agent config, web-config,
# small scalar parsers) and the remote-write answer readers and queue, run by `make fuzz` /
# tests/fuzz/run.sh, seeded from tests/fuzz/corpus/<name>/. fuzz_config links every library source
# (the config loader validates sections through their owners).
FUZZ_CC ?= clang
HARDEN_FUZZ_FLAGS := -g -O1 -fno-omit-frame-pointer -fsanitize=fuzzer,address,undefined \
                     -fno-sanitize-recover=undefined
HARDEN_FUZZ_LIB := $(LIB_SRCS)

$(O)/fuzz/fuzz_yaml: tests/fuzz/fuzz_yaml.c $(wildcard core/*.c core/*.h) collector/loadavg.c
	@mkdir -p $(@D)
	@echo "  FUZZ/LD $@"
	$(Q)$(FUZZ_CC) $(CPPFLAGS) $(PKG_CFLAGS) -std=gnu11 $(HARDEN_FUZZ_FLAGS) -o $@ \
		$< $(wildcard core/*.c) collector/loadavg.c $(PKG_LIBS) $(EXTRA_LIBS)

# GEN_SRCS/GEN_HDRS are completed by mk/*.mk files read after this one (rw.mk): expand them late.
# GEN_SRCS names paths under $(O)/gen.
.SECONDEXPANSION:
$(O)/fuzz/fuzz_config: tests/fuzz/fuzz_config.c $(HARDEN_FUZZ_LIB) \
		$$(addprefix $(O)/gen/,$$(GEN_SRCS)) | $$(GEN_HDRS)
	@mkdir -p $(@D)
	@echo "  FUZZ/LD $@"
	$(Q)$(FUZZ_CC) $(CPPFLAGS) $(PKG_CFLAGS) -std=gnu11 $(HARDEN_FUZZ_FLAGS) -Wno-unused-command-line-argument -o $@ \
		$< $(HARDEN_FUZZ_LIB) $(addprefix $(O)/gen/,$(GEN_SRCS)) $(BIN_LIBS) $(PKG_LIBS) $(EXTRA_LIBS)

FUZZ_STEPS += $(O)/fuzz/fuzz_yaml $(O)/fuzz/fuzz_config

# Remote write: what the sender reads from a receiver (status, headers, body) and the durable
# queue's reader fed arbitrary segment and savepoint files (its records decoded as the sender does).
$(O)/fuzz/fuzz_rw_http: tests/fuzz/fuzz_rw_http.c exporter/rw_http.c exporter/rw_http.h core/buf.c
	@mkdir -p $(@D)
	@echo "  FUZZ/LD $@"
	$(Q)$(FUZZ_CC) $(CPPFLAGS) $(PKG_CFLAGS) -std=gnu11 $(HARDEN_FUZZ_FLAGS) -o $@ \
		$< exporter/rw_http.c core/buf.c $(PKG_LIBS) $(EXTRA_LIBS)

RW_QUEUE_FUZZ_SRCS := exporter/rw_queue.c exporter/rw_encode.c core/buf.c core/log.c core/labels.c
$(O)/fuzz/fuzz_rw_queue: tests/fuzz/fuzz_rw_queue.c $(RW_QUEUE_FUZZ_SRCS) exporter/rw_queue.h \
		exporter/rw_encode.h $$(addprefix $(O)/gen/,$$(GEN_SRCS)) | $$(GEN_HDRS)
	@mkdir -p $(@D)
	@echo "  FUZZ/LD $@"
	$(Q)$(FUZZ_CC) $(CPPFLAGS) $(PKG_CFLAGS) -std=gnu11 $(HARDEN_FUZZ_FLAGS) -o $@ \
		$< $(RW_QUEUE_FUZZ_SRCS) $(addprefix $(O)/gen/,$(GEN_SRCS)) $(PKG_LIBS) $(EXTRA_LIBS)

FUZZ_STEPS += $(O)/fuzz/fuzz_rw_http $(O)/fuzz/fuzz_rw_queue

# The cgroup collector's parsers (once collector/cgroup_parse.c is in the tree).
ifneq ($(wildcard collector/cgroup_parse.c),)
CGROUP_FUZZ_SRCS := $(wildcard core/*.c) collector/cgroup_parse.c collector/kube.c \
                    collector/kubelet.c collector/filesystem.c collector/node_common.c
$(O)/fuzz/fuzz_cgroup: tests/fuzz/fuzz_cgroup.c collector/cgroup_internal.h collector/cgroup_fs.h \
                       $(CGROUP_FUZZ_SRCS)
	@mkdir -p $(@D)
	@echo "  FUZZ/LD $@"
	$(Q)$(FUZZ_CC) $(CPPFLAGS) $(PKG_CFLAGS) -std=gnu11 $(HARDEN_FUZZ_FLAGS) -o $@ \
		$< $(CGROUP_FUZZ_SRCS) $(PKG_LIBS) $(EXTRA_LIBS)

FUZZ_STEPS += $(O)/fuzz/fuzz_cgroup
endif
