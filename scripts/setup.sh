#!/usr/bin/env bash
# Install what building and testing need. Idempotent; quick when all is there.
set -euo pipefail
. "$(dirname "$0")/env.sh"

[ "$(id -u)" = 0 ] || die "run as root: the set-up installs Debian packages and the tests load kernel modules"
mkdir -p "$SSNAT_CACHE"

debs=(build-essential flex bison bc libelf-dev libssl-dev cpio kmod dwarves
	libclang-19-dev qemu-system-x86 iptables libxtables-dev iproute2 tcpdump
	busybox-static pkg-config valgrind gdb ethtool nftables iputils-ping
	libnetfilter-queue-dev python3-matplotlib sip-tester python3-scapy
	clang-19 lld-19 llvm-19)
missing=()
for p in "${debs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
# Without their recommendations: debootstrap (the trixie tree of `make debian`) and
# dkms (its test), which would otherwise bring the host's own kernel headers.
norec=(debootstrap dkms)
missing_norec=()
for p in "${norec[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing_norec+=("$p")
done
if [ ${#missing[@]} -gt 0 ] || [ ${#missing_norec[@]} -gt 0 ]; then
	echo "setup: installing ${missing[*]} ${missing_norec[*]}"
	apt-get update -q >/dev/null || die "apt-get update failed: no network to the Debian archive?"
	[ ${#missing[@]} = 0 ] || DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >/dev/null ||
		die "apt-get install ${missing[*]} failed"
	[ ${#missing_norec[@]} = 0 ] || DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
		"${missing_norec[@]}" >/dev/null || die "apt-get install ${missing_norec[*]} failed"
fi

command -v cargo >/dev/null || die "cargo not found: install Rust with rustup first"

rsdeb=$(ssnat_rust_src_deb)
if [ ! -d "$(ssnat_rust_lib_src)" ]; then
	[ -n "$rsdeb" ] || die "no pinned Debian rust-src for rustc $(ssnat_rustc_version); add it to scripts/env.sh"
	echo "setup: fetching rust-src $rsdeb"
	"$ssnat_repo/scripts/fetch-debian.sh" "$SSNAT_CACHE" "$KERNEL_SUITE" "rust-src=$rsdeb" \
		"$SSNAT_CACHE/rust-src-$(ssnat_rustc_version)"
fi

if ! bindgen --version 2>/dev/null | grep -q "$BINDGEN_VERSION"; then
	echo "setup: cargo install bindgen-cli $BINDGEN_VERSION (about 2 minutes)"
	cargo install -q --locked "bindgen-cli@$BINDGEN_VERSION" || die "cargo install bindgen-cli failed"
fi

if ! cargo fuzz --version >/dev/null 2>&1; then
	echo "setup: cargo install cargo-fuzz $CARGO_FUZZ_VERSION (about 2 minutes)"
	cargo install -q --locked "cargo-fuzz@$CARGO_FUZZ_VERSION" || die "cargo install cargo-fuzz failed"
fi

if ! vng --version 2>/dev/null | grep -q "$VIRTME_NG_VERSION"; then
	echo "setup: pip install virtme-ng $VIRTME_NG_VERSION"
	python3 -m pip install -q "virtme-ng==$VIRTME_NG_VERSION" 2>/dev/null ||
		python3 -m pip install -q --break-system-packages "virtme-ng==$VIRTME_NG_VERSION" ||
		die "pip install virtme-ng failed"
	hash -r
fi
command -v vng >/dev/null || die "vng is not on PATH after installing virtme-ng"
