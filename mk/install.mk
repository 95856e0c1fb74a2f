# SPDX-License-Identifier: Apache-2.0
# make install (PREFIX, DESTDIR), make rootfs (runtime layout of the container image, used by the
# tests), make image (docker/podman when present).
PREFIX ?= /usr/local
DESTDIR ?=

.PHONY: install rootfs image

install: $(O)/hakari
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)/etc/hakari $(DESTDIR)/lib/systemd/system
	install -m 0755 $(O)/hakari $(DESTDIR)$(PREFIX)/bin/hakari
	sed 's|/usr/local/bin/hakari|$(PREFIX)/bin/hakari|' deploy/systemd/hakari.service > \
		$(DESTDIR)/lib/systemd/system/hakari.service
	[ -e $(DESTDIR)/etc/hakari/hakari.yml ] || install -m 0644 deploy/hakari.yml $(DESTDIR)/etc/hakari/hakari.yml
	[ ! -e hakari.1 ] || { install -d $(DESTDIR)$(PREFIX)/share/man/man1; \
		install -m 0644 hakari.1 $(DESTDIR)$(PREFIX)/share/man/man1/hakari.1; }

# The image's runtime layout without a container engine: the binary plus exactly the shared
# libraries ldd reports, the loader, and a passwd entry for the non-root user.
rootfs: $(O)/hakari
	rm -rf $(O)/rootfs
	./deploy/mkrootfs.sh $(O)/hakari $(O)/rootfs

# PLATFORM=linux/arm64 (or a list, with docker buildx) builds for other platforms: deploy/Dockerfile.
IMAGE_PLATFORM = $(if $(PLATFORM),--platform $(PLATFORM))
image:
	@if command -v docker >/dev/null 2>&1; then docker build $(IMAGE_PLATFORM) -f deploy/Dockerfile -t hakari:$(VERSION) .; \
	elif command -v podman >/dev/null 2>&1; then podman build $(IMAGE_PLATFORM) -f deploy/Dockerfile -t hakari:$(VERSION) .; \
	else echo "make image: neither docker nor podman is installed" >&2; exit 1; fi
