# Protobuf exposition (exporter/protofmt.c): hakari writes it by hand; the C protoc-c generates
# from proto/metrics.proto (rule in mk/rw.mk) decodes it in tests/unit/test_protofmt.c.
GEN_SRCS += proto/metrics.pb-c.c
GEN_HDRS += $(O)/gen/proto/metrics.pb-c.h
