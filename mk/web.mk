# SPDX-License-Identifier: Apache-2.0
# Build hooks of the web/foundation tests and benchmarks: the snapshot server used by
# tests/integration/hostile.sh and webconfig.sh, and the exposition render benchmark.
# LIB_OBJS is defined after mk/*.mk are included: second expansion reads it when the rule runs.

.SECONDEXPANSION:

$(O)/tests/serve_snapshot: tests/tools/serve_snapshot.c $$(LIB_OBJS)
	@mkdir -p $(@D)
	@echo "  LD      $@"
	$(Q)$(CC) $(CPPFLAGS) $(PKG_CFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(BIN_LIBS) $(PKG_LIBS) $(EXTRA_LIBS)

$(O)/bench/render: bench/render.c $$(LIB_OBJS)
	@mkdir -p $(@D)
	@echo "  LD      $@"
	$(Q)$(CC) $(CPPFLAGS) $(PKG_CFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(BIN_LIBS) $(PKG_LIBS) $(EXTRA_LIBS)

TEST_STEPS += $(O)/tests/serve_snapshot
BENCH_STEPS += $(O)/bench/render

# exporter/webconfig.c: TLS material is checked with GnuTLS (libmicrohttpd's TLS library) and
# the auth cache is keyed with its HMAC.
PKGS += gnutls
