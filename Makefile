# xt_SSNAT: stateless source NAT for Linux, as a Rust-for-Linux xtables target.
#
#   make demo      build what is missing, boot the kernel in QEMU, show a UDP rewrite
#   make check     every test: cargo tests of the workspace, then the QEMU tests
#   make bench     instructions per packet of the packet path (callgrind), as ratios
#   make           the module and the userspace parts (kernel built and cached first)
#
# KDIR=/path/to/kernel/build builds against another kernel tree (it needs CONFIG_RUST
# and the Rust metadata of a full build with the same rustc); by default the kernel
# is built once from kernel/ssnat.config into $(SSNAT_CACHE) (see scripts/env.sh).

SHELL := /bin/bash
CACHE_KDIR := $(shell bash -c '. scripts/env.sh; ssnat_kdir')
KDIR ?= $(CACHE_KDIR)
CARGO ?= cargo

.PHONY: all setup kernel module userspace install demo check test-host test-qemu bench clean

all: module userspace

setup:
	@scripts/setup.sh

# Only the cached kernel is built here; a KDIR given by the user is taken as it is.
kernel: setup
ifeq ($(KDIR),$(CACHE_KDIR))
	@scripts/build-kernel.sh
else
	@test -f $(KDIR)/Module.symvers -o -f $(KDIR)/.config || { echo "error: KDIR=$(KDIR) is not a kernel build tree" >&2; exit 1; }
endif

# Linted by clippy (the kernel's own lint set, warnings are errors) when it is installed.
module: kernel
	@. scripts/env.sh && $(MAKE) -s -C $(KDIR) M=$(CURDIR) $$(command -v clippy-driver >/dev/null && echo CLIPPY=1) modules

userspace: setup
	@. scripts/env.sh && $(CARGO) build -q --release --workspace

# The extension, ssnatctl with its man page and bash/zsh/fish completions (generated
# from the clap definitions), and the module.
install: module userspace
	@. scripts/env.sh && ctl="$$CARGO_TARGET_DIR/release/ssnatctl" && \
		install -m 0644 "$$CARGO_TARGET_DIR/release/libxt_SSNAT.so" "$$(pkg-config --variable=xtlibdir xtables)/" && \
		install -m 0755 "$$ctl" /usr/local/sbin/ssnatctl && \
		install -d /usr/local/share/man/man8 /usr/local/share/bash-completion/completions \
			/usr/local/share/zsh/site-functions /usr/local/share/fish/vendor_completions.d && \
		"$$ctl" manpage >/usr/local/share/man/man8/ssnatctl.8 && \
		"$$ctl" completions bash >/usr/local/share/bash-completion/completions/ssnatctl && \
		"$$ctl" completions zsh >/usr/local/share/zsh/site-functions/_ssnatctl && \
		"$$ctl" completions fish >/usr/local/share/fish/vendor_completions.d/ssnatctl.fish
	$(MAKE) -C $(KDIR) M=$(CURDIR) modules_install

demo: module userspace
	@scripts/demo.sh

test-host: setup
	@scripts/check.sh host fuzz

test-qemu: module userspace
	@scripts/check.sh qemu

check: module userspace
	@scripts/check.sh host fuzz qemu

# Instructions per packet of the pure packet path under callgrind (bench/results/).
bench: setup
	@scripts/bench.sh

clean:
	-$(MAKE) -s -C $(KDIR) M=$(CURDIR) clean 2>/dev/null
	. scripts/env.sh && $(CARGO) clean
	rm -rf tests/out
