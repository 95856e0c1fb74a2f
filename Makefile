# SPDX-License-Identifier: Apache-2.0
# hakari — one non-recursive GNU Makefile. Outputs go under $(O) (default build/).
#   make            build $(O)/hakari
#   make run        install missing runtime packages, build, run on this host (:9810)
#   make test       install test packages, run every test suite (unit under ASan+UBSan)
#   make bench | fuzz | clean
#   make cross-arm64   build-arm64/hakari for arm64 (mk/cross-arm64.sh); make check-arm64 also
#                      runs the unit tests under qemu-aarch64
# Variables: O=<dir> (build dir), V=1 (show commands), BPF=0 (build without clang/bpftool),
# WERROR=1 (warnings are errors; CI sets it).

O ?= build
V ?= 0
BPF ?= 1
WERROR ?= 0

ifeq ($(V),1)
Q :=
else
Q := @
endif

CC ?= cc
VERSION := $(shell cat VERSION 2>/dev/null || echo 0.0.0)
REVISION := $(shell git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)

PKGS := libmicrohttpd libprotobuf-c snappy libcurl libcjson yaml-0.1 libpcre2-8 zlib libcap
WARN := -Wall -Wextra -Wshadow -Wformat=2 -Wmissing-prototypes -Wstrict-prototypes \
        -Wno-unused-parameter
ifeq ($(WERROR),1)
WARN += -Werror
endif

PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS = $(shell pkg-config --libs $(PKGS) 2>/dev/null)
# snappy ships a C API without a C pkg-config lib entry on some systems; make sure it links.
EXTRA_LIBS := -lsnappy -lcrypt -lpthread -lm

CPPFLAGS += -I. -I$(O)/gen -D_GNU_SOURCE -DHK_VERSION='"$(VERSION)"' -DHK_REVISION='"$(REVISION)"' \
            -DHK_WITH_BPF=$(BPF)
CFLAGS ?= -O2 -g
CFLAGS += -std=gnu11 -fno-strict-aliasing -fPIE $(WARN) -MMD -MP
LDFLAGS += -pie -Wl,-z,relro,-z,now
SAN_FLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
# libFuzzer targets (mk/*.mk, `make fuzz`): clang with coverage on the code under test, ASan+UBSan.
FUZZ_CC ?= clang
FUZZ_FLAGS := -g -O1 -fno-omit-frame-pointer -fsanitize=fuzzer,address,undefined \
              -fno-sanitize-recover=undefined

# Sources: every .c of the library directories; agent/main.c is the program. mk/*.mk may add
# generated sources (GEN_SRCS), extra objects, packages, test steps.
LIB_SRCS := $(wildcard core/*.c) $(wildcard collector/*.c) $(wildcard exporter/*.c) \
            $(filter-out agent/main.c,$(wildcard agent/*.c))
GEN_SRCS :=
GEN_HDRS :=
BIN_LIBS :=
TEST_STEPS :=
BENCH_STEPS :=
FUZZ_STEPS :=

-include mk/*.mk

LIB_OBJS = $(patsubst %.c,$(O)/obj/%.o,$(LIB_SRCS) $(GEN_SRCS))
ASAN_OBJS = $(patsubst %.c,$(O)/asan/%.o,$(LIB_SRCS) $(GEN_SRCS))
UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(patsubst tests/unit/%.c,$(O)/tests/%,$(UNIT_SRCS))

.PHONY: all run test unit check-asan golden integration bench fuzz clean deps-run deps-test \
        deps-bench deps-fuzz deps-cross cross-arm64 check-arm64 format
.DEFAULT_GOAL := all

all: $(O)/hakari

$(O)/hakari: $(O)/obj/agent/main.o $(LIB_OBJS)
	@mkdir -p $(@D)
	@echo "  LD      $@"
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(BIN_LIBS) $(PKG_LIBS) $(EXTRA_LIBS)

$(O)/obj/%.o: %.c | $(GEN_HDRS)
	@mkdir -p $(@D)
	@echo "  CC      $<"
	$(Q)$(CC) $(CPPFLAGS) $(PKG_CFLAGS) $(CFLAGS) -c -o $@ $<

$(O)/obj/%.o: $(O)/gen/%.c | $(GEN_HDRS)
	@mkdir -p $(@D)
	@echo "  CC      $<"
	$(Q)$(CC) $(CPPFLAGS) $(PKG_CFLAGS) $(CFLAGS) -Wno-missing-prototypes -c -o $@ $<

$(O)/asan/%.o: %.c | $(GEN_HDRS)
	@mkdir -p $(@D)
	@echo "  CC/SAN  $<"
	$(Q)$(CC) $(CPPFLAGS) $(PKG_CFLAGS) $(CFLAGS) -O1 $(SAN_FLAGS) -c -o $@ $<

$(O)/asan/%.o: $(O)/gen/%.c | $(GEN_HDRS)
	@mkdir -p $(@D)
	@echo "  CC/SAN  $<"
	$(Q)$(CC) $(CPPFLAGS) $(PKG_CFLAGS) $(CFLAGS) -O1 $(SAN_FLAGS) -Wno-missing-prototypes -c -o $@ $<

# One cmocka binary per module, linked against the sanitized library objects.
$(O)/tests/test_%: tests/unit/test_%.c $(ASAN_OBJS)
	@mkdir -p $(@D)
	@echo "  TEST/LD $@"
	$(Q)$(CC) $(CPPFLAGS) $(PKG_CFLAGS) $(CFLAGS) -O1 $(SAN_FLAGS) -Wno-missing-prototypes \
		-o $@ $< $(ASAN_OBJS) $(BIN_LIBS) $(PKG_LIBS) $(EXTRA_LIBS) $(shell pkg-config --libs cmocka)

# ---- set-up: install what is missing (Debian; apt-get as root) ----
deps-run:
	$(Q)./mk/deps.sh run
deps-test:
	$(Q)./mk/deps.sh test
deps-bench:
	$(Q)./mk/deps.sh bench
deps-fuzz:
	$(Q)./mk/deps.sh fuzz
deps-cross:
	$(Q)./mk/deps.sh cross

# ---- arm64 on an amd64 Debian host: cross compiler and qemu-user from apt, the arm64 libraries
# unpacked into build-arm64/sysroot (nothing arm64 is installed); see mk/cross-arm64.sh ----
cross-arm64: deps-run deps-cross
	$(Q)WERROR=$(WERROR) ./mk/cross-arm64.sh build
check-arm64: deps-run deps-cross
	$(Q)WERROR=$(WERROR) ./mk/cross-arm64.sh check

RUN_ARGS ?= --web.listen-address=:9810
run: deps-run
	$(Q)$(MAKE) --no-print-directory all
	./$(O)/hakari $(RUN_ARGS)

# ---- tests ----
unit: $(UNIT_BINS)
check-asan: unit
	$(Q)O=$(O) ./tests/run.sh unit

# The build runs on every core unless make was given its own -j (a CI `make test` has none).
TEST_BUILD_JOBS = $(if $(filter -j% j%,$(MAKEFLAGS)),,-j$(shell nproc 2>/dev/null || echo 2))
test: deps-test
	$(Q)$(MAKE) --no-print-directory $(TEST_BUILD_JOBS) all unit $(TEST_STEPS)
	$(Q)O=$(O) ./tests/run.sh all

bench: deps-bench
	$(Q)$(MAKE) --no-print-directory all $(BENCH_STEPS)
	$(Q)O=$(O) ./bench/run.sh

fuzz: deps-fuzz
	$(Q)$(MAKE) --no-print-directory $(FUZZ_STEPS)
	$(Q)O=$(O) ./tests/fuzz/run.sh

format:
	clang-format -i $(wildcard core/*.[ch] collector/*.[ch] exporter/*.[ch] agent/*.[ch])

clean:
	rm -rf $(O)

-include $(shell find $(O) -name '*.d' -type f 2>/dev/null)
