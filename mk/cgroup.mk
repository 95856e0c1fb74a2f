# SPDX-License-Identifier: Apache-2.0
# cgroup collector: the cycle-cost benchmark driver (bench/cgroup.sh).
# (Included before LIB_OBJS is defined, so the rule lists its sources.)
CGROUP_BENCH_SRCS = bench/cgroup_cycle.c $(wildcard core/*.c) $(wildcard collector/*.c)
$(O)/bench/cgroup_cycle: $(CGROUP_BENCH_SRCS)
	@mkdir -p $(@D)
	@echo "  BENCH   $@"
	$(Q)$(CC) $(CPPFLAGS) $(PKG_CFLAGS) $(CFLAGS) -Wno-missing-prototypes -o $@ $(CGROUP_BENCH_SRCS) $(PKG_LIBS) $(EXTRA_LIBS)
BENCH_STEPS += $(O)/bench/cgroup_cycle
