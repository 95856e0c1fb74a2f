# SPDX-License-Identifier: Apache-2.0
# eBPF probes (bpf/*.bpf.c): compiled with clang -target bpf, skeletons generated with bpftool
# into $(O)/gen/bpf (never committed). With BPF=0 nothing here runs and the collector builds
# without libbpf (every program then reports hakari_ebpf_program_up 0).
BPF_PROBES := sched proc oom tcp blk syscalls

ifeq ($(BPF),1)
BPF_CLANG ?= clang
BPFTOOL ?= bpftool
# The target's architecture, from the C compiler (a cross compiler gives its own: `make
# cross-arm64`), selects bpf/arch/<arch>/vmlinux.h and __TARGET_ARCH_<arch> (pt_regs layout).
BPF_ARCH ?= $(shell $(CC) -dumpmachine | sed -e 's/-.*//' -e 's/^x86_64$$/x86/' -e 's/^aarch64$$/arm64/')
ifeq ($(wildcard bpf/arch/$(BPF_ARCH)/vmlinux.h),)
$(error no bpf/arch/$(BPF_ARCH)/vmlinux.h for this target ($(CC) -dumpmachine); build with BPF=0 or add the header (bpf/README.md))
endif
BPF_CFLAGS := -target bpf -D__TARGET_ARCH_$(BPF_ARCH) -g -O2 -Wall -Wno-unused-function \
              -Ibpf/arch/$(BPF_ARCH) -Ibpf

PKGS += libbpf
BIN_LIBS += $(shell pkg-config --libs libbpf 2>/dev/null || echo -lbpf -lelf -lz)
GEN_HDRS += $(patsubst %,$(O)/gen/bpf/%.skel.h,$(BPF_PROBES))

$(O)/gen/bpf/%.bpf.o: bpf/%.bpf.c bpf/%.h bpf/hk_bpf.h bpf/hk_common.h bpf/arch/$(BPF_ARCH)/vmlinux.h
	@mkdir -p $(@D)
	@echo "  BPF     $<"
	$(Q)$(BPF_CLANG) $(BPF_CFLAGS) -c -o $@ $<

# The objects are kept (tests/integration/cross_arm64.sh reads their BTF).
.SECONDARY: $(patsubst %,$(O)/gen/bpf/%.bpf.o,$(BPF_PROBES))
$(O)/gen/bpf/%.skel.h: $(O)/gen/bpf/%.bpf.o
	@echo "  SKEL    $@"
	$(Q)$(BPFTOOL) gen skeleton $< name hk_$* > $@.tmp && mv $@.tmp $@
endif

# Integration-test driver: the eBPF collector alone, attach → workload → collect.
EBPF_DRIVER := $(O)/tests/tools/ebpf_driver
TEST_STEPS += $(EBPF_DRIVER)
# LIB_OBJS is defined after mk/*.mk are included: expand it at the second phase.
.SECONDEXPANSION:
$(EBPF_DRIVER): tests/tools/ebpf_driver.c $$(LIB_OBJS) | $$(GEN_HDRS)
	@mkdir -p $(@D)
	@echo "  LD      $@"
	$(Q)$(CC) $(CPPFLAGS) $(PKG_CFLAGS) $(CFLAGS) -Wno-missing-prototypes $(LDFLAGS) -o $@ $< \
		$(LIB_OBJS) $(BIN_LIBS) $(PKG_LIBS) $(EXTRA_LIBS)

# Benchmark workload (bench/ebpf.sh).
EBPF_WORKLOAD := $(O)/bench/ebpf_workload
BENCH_STEPS += $(EBPF_WORKLOAD) $(EBPF_DRIVER)
$(EBPF_WORKLOAD): bench/ebpf_workload.c
	@mkdir -p $(@D)
	@echo "  LD      $@"
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $<

# Topology edges at node scale (bench/ebpf.sh runs it): series and memory per container.
$(O)/bench/topo_series: bench/topo_series.c $(LIB_OBJS)
	@mkdir -p $(@D)
	@echo "  LD      $@"
	$(Q)$(CC) $(CPPFLAGS) $(PKG_CFLAGS) $(CFLAGS) -o $@ $< $(LIB_OBJS) $(BIN_LIBS) $(PKG_LIBS) \
		$(EXTRA_LIBS)
BENCH_STEPS += $(O)/bench/topo_series
