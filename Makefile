# xt_SSNAT: stateless source NAT for Linux, as a Rust-for-Linux xtables target.
#
#   make demo      build what is missing, boot the kernel in QEMU, place SIP calls whose
#                  Music-On-Hold SSNAT re-sources (make demo-udp: a plain UDP rewrite)
#   make check     every test: cargo tests of the workspace, the QEMU tests on our
#                  release kernel and (the reliability tests and a sample of the others)
#                  on our debug kernel (KASAN, UBSAN, lockdep, kmemleak), make install
#                  and DKMS on the host, Debian's own kernel (make debian + QEMU)
#   make soak      the long versions: every QEMU test on the debug kernel, at soak scale
#   make bench     instructions per packet: the packet path (callgrind), then the whole
#                  forwarding path in a guest under QEMU -icount (make bench-guest)
#   make trace     one datagram through the target, single-stepped: instructions per function
#   make           the module and the userspace parts (kernel built and cached first)
#   make install   module, extension, ssnatctl, man pages, completions (DESTDIR, PREFIX,
#                  KDIR; KO=path installs a module built elsewhere); make uninstall
#   make debian    xt_SSNAT.ko for Debian's own kernel KVER, built and checked in a
#                  cached trixie tree (scripts/debian.sh)
#
# KDIR=/path/to/kernel/build builds against another kernel tree (it needs CONFIG_RUST
# and the Rust metadata of a full build with the same rustc); by default the kernel
# is built once from kernel/ssnat.config into $(SSNAT_CACHE) (see scripts/env.sh).

SHELL := /bin/bash
CACHE_KDIR := $(shell bash -c '. scripts/env.sh; ssnat_kdir')
KDIR ?= $(CACHE_KDIR)
CARGO ?= cargo
PREFIX ?= /usr/local
DESTDIR ?=
# A module built elsewhere to install instead of ./xt_SSNAT.ko (out/KVER/xt_SSNAT.ko of
# `make debian`; its vermagic gives the release), and an extension built elsewhere
# (out/KVER/libxt_SSNAT.so: against the target's libxtables).
KO ?=
EXT ?=
KVER ?= $(shell bash -c '. scripts/env.sh; echo $$DEBIAN_KVER_DEFAULT')

.PHONY: all setup kernel kernel-debug module module-debug userspace install uninstall debian demo demo-udp check soak test-host test-qemu test-debug test-debian bench bench-guest trace clean

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

# The debug kernel (kernel/ssnat.config + kernel/ssnat-debug.config, clang), cached
# apart, and the module built for it into out/debug/module/ (scripts/build-module.sh).
kernel-debug: setup
	@scripts/build-kernel.sh debug

module-debug: kernel-debug
	@scripts/build-module.sh debug

userspace: setup
	@. scripts/env.sh && $(CARGO) build -q --release --workspace

# The module into /lib/modules/<release>/updates (release: KDIR's kernel.release, or the
# vermagic of KO) and depmod, the extension into xtables' xtlibdir, ssnatctl into
# PREFIX/sbin with its man page and bash/zsh/fish completions (generated from the clap
# definitions), the target's man page (man/xt_SSNAT.8); all under DESTDIR. What is
# installed is listed in PREFIX/share/xt_SSNAT/install-manifest, which uninstall
# follows (scripts/install.sh; DEPMOD=0|1, KRELEASE, XTLIBDIR are also taken).
install: $(if $(KO),,module) userspace
	@. scripts/env.sh && DESTDIR="$(DESTDIR)" PREFIX="$(PREFIX)" KDIR="$(KDIR)" KO="$(KO)" EXT="$(EXT)" \
		KRELEASE="$(KRELEASE)" XTLIBDIR="$(XTLIBDIR)" DEPMOD="$(DEPMOD)" scripts/install.sh install

uninstall:
	@DESTDIR="$(DESTDIR)" PREFIX="$(PREFIX)" scripts/install.sh uninstall

# Debian's own kernel: out/$(KVER)/xt_SSNAT.ko, checked against Debian's vermagic and
# Module.symvers, and out/$(KVER)/libxt_SSNAT.so for trixie's iptables (needs no
# kernel of ours).
debian: setup
	@scripts/debian.sh $(KVER)

demo: module userspace
	@scripts/demo.sh

demo-udp: module userspace
	@SSNAT_DEMO=udp scripts/demo.sh

test-host: setup
	@scripts/check.sh host fuzz

test-qemu: module userspace
	@scripts/check.sh qemu

test-debug: module-debug userspace
	@scripts/check.sh debug

# Debian's own kernel: make debian, install into the trixie tree, boot Debian's vmlinuz.
test-debian: setup userspace
	@scripts/check.sh debian

check: module userspace module-debug
	@scripts/check.sh host+fuzz qemu debug+debian install

# Every QEMU test on the debug kernel, the reliability tests at their long sizes
# (SSNAT_SCALE=soak: 200,000 fuzzed packets, 20,000 rule blobs, 200,000 netlink
# messages, 10 minutes of churn), and the host fuzz target for 10 minutes.
soak: module-debug userspace
	@SSNAT_FUZZ_SECONDS=$${SSNAT_FUZZ_SECONDS:-600} scripts/check.sh fuzz soak

# Instructions per packet of the pure packet path under callgrind, then of the whole
# forwarding path next to its alternatives, in a guest under QEMU -icount (bench/results/).
bench: setup module userspace
	@scripts/bench.sh

bench-guest: module userspace
	@scripts/bench-guest.sh

# One datagram through the SSNAT target, single-stepped in a guest: instructions per
# function (bench/results/trace-latest.md). Options after TRACE=, e.g.
# make trace TRACE="--to-source 198.51.100.0-198.51.100.9".
trace: module userspace
	@bench/trace.sh $(TRACE)

clean:
	-$(MAKE) -s -C $(KDIR) M=$(CURDIR) clean 2>/dev/null
	. scripts/env.sh && $(CARGO) clean
	rm -rf tests/out
