# SPDX-License-Identifier: Apache-2.0
# Protobuf exposition (exporter/protofmt.c): hakari writes it by hand; the C protoc-c generates
# from proto/metrics.proto (rule in mk/rw.mk) decodes it in tests/unit/test_protofmt.c.
GEN_SRCS += proto/metrics.pb-c.c
GEN_HDRS += $(O)/gen/proto/metrics.pb-c.h

# libFuzzer target (`make fuzz`): text the Prometheus text parser accepts, emitted like the
# textfile collector does, rendered; the body must decode and re-pack with protobuf-c.
PROTOFMT_FUZZ_SRCS := $(wildcard core/*.c) collector/promtext.c exporter/protofmt.c
.SECONDEXPANSION:
$(O)/fuzz/fuzz_protofmt: tests/fuzz/fuzz_protofmt.c $(PROTOFMT_FUZZ_SRCS) exporter/protofmt.h \
		$(O)/gen/proto/metrics.pb-c.c | $$(GEN_HDRS)
	@mkdir -p $(@D)
	@echo "  FUZZ/LD $@"
	$(Q)$(FUZZ_CC) $(CPPFLAGS) $(PKG_CFLAGS) -std=gnu11 $(FUZZ_FLAGS) -o $@ \
		$< $(PROTOFMT_FUZZ_SRCS) $(O)/gen/proto/metrics.pb-c.c $(PKG_LIBS) $(EXTRA_LIBS)

FUZZ_STEPS += $(O)/fuzz/fuzz_protofmt
