#!/usr/bin/env bash
# Build xt_SSNAT.ko for kernel KVER: dkms.conf's build step, also usable by hand.
# Finds the kernel's Rust metadata (rust/libkernel.rmeta and rust/libmacros.so, which
# an out-of-tree Rust module needs) and stops with one line saying what is missing
# instead of a page of rustc errors:
#   - the kernel has no CONFIG_RUST, or no xtables (CONFIG_NETFILTER_XTABLES);
#   - no tree with the metadata: KDIR itself (a full build tree, or Ubuntu's headers
#     with linux-lib-rust-KVER installed), /usr/src/linux-rust-KVER (Debian: made by
#     scripts/debian-kernel-metadata.sh), or $SSNAT_KDIR;
#   - `rustc --version` is not the kernel's CONFIG_RUSTC_VERSION_TEXT (rustc refuses
#     metadata of another rustc, E0514, and the exported symbol names differ).
#
# Usage: dkms-build.sh [KVER [KDIR]]   (default: `uname -r`, /lib/modules/KVER/build)
#        dkms-build.sh --clean
# Environment: RUSTC (default rustc), SSNAT_KDIR (a tree to try first).
set -uo pipefail
src=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
die() { echo "xt_SSNAT: $*" >&2; exit 1; }

if [ "${1:-}" = --clean ]; then
	cd "$src" && rm -f ./*.ko ./*.o ./.*.cmd ./*.mod ./*.mod.c modules.order Module.symvers
	exit 0
fi
kver=${1:-$(uname -r)}
kdir=${2:-/lib/modules/$kver/build}

# Has TREE the Rust metadata of a prepared kernel?
has_metadata() { [ -s "$1/rust/libkernel.rmeta" ] && [ -e "$1/rust/libmacros.so" ] && [ -f "$1/Makefile" ]; }
conf_of() { # TREE: its kernel configuration file
	local f
	for f in "$1/include/config/auto.conf" "$1/.config"; do
		[ -f "$f" ] && { echo "$f"; return; }
	done
}
cfg() { sed -n "s/^$2=\"\{0,1\}\([^\"]*\)\"\{0,1\}$/\1/p" "$1" | head -1; }

# The kernel's configuration: the given tree's, or the installed kernel's.
config=$(conf_of "$kdir")
[ -n "$config" ] || [ ! -f "/boot/config-$kver" ] || config=/boot/config-$kver
[ -n "$config" ] || die "no configuration of kernel $kver in $kdir (install its headers, e.g. linux-headers-$kver)"
[ "$(cfg "$config" CONFIG_RUST)" = y ] ||
	die "kernel $kver is built without CONFIG_RUST ($config): a Rust module cannot run on it"
case $(cfg "$config" CONFIG_NETFILTER_XTABLES) in
y | m) ;;
*) die "kernel $kver has no xtables (CONFIG_NETFILTER_XTABLES is off in $config)" ;;
esac

# The tree with the metadata.
tree=""
for t in ${SSNAT_KDIR:-} "$kdir" "/usr/src/linux-rust-$kver"; do
	if has_metadata "$t"; then
		tree=$(cd "$t" && pwd -P)
		break
	fi
done
if [ -z "$tree" ]; then
	lib=/usr/src/linux-lib-rust-$kver/rust
	[ ! -s "$lib/libkernel.rmeta" ] ||
		die "$kdir/rust does not lead to $lib (Ubuntu's linux-lib-rust-$kver): reinstall linux-headers-$kver, or set SSNAT_KDIR to a tree with rust/libkernel.rmeta"
	die "no Rust metadata for kernel $kver (rust/libkernel.rmeta, rust/libmacros.so) in $kdir or /usr/src/linux-rust-$kver: Ubuntu: install linux-lib-rust-$kver; Debian: run scripts/debian-kernel-metadata.sh $kver (README, Install)"
fi
rel=$(cat "$tree/include/config/kernel.release" 2>/dev/null || true)
[ "$rel" = "$kver" ] || die "the Rust metadata in $tree is for kernel ${rel:-unknown}, not $kver"
tconfig=$(conf_of "$tree")
[ "$(cfg "$tconfig" CONFIG_RUST)" = y ] || die "$tree is configured without CONFIG_RUST"

# The very rustc that made the metadata.
rustc=${RUSTC:-rustc}
want=$(cfg "$tconfig" CONFIG_RUSTC_VERSION_TEXT)
have=$("$rustc" --version 2>/dev/null || true)
[ "$have" = "$want" ] ||
	die "rustc is '${have:-not found}' but kernel $kver was built by '$want': only that exact rustc can build for it (put it first on PATH or set RUSTC)"

# make variables: those the metadata was made with (Debian: CC=x86_64-linux-gnu-gcc-14
# and friends, see scripts/debian-kernel-metadata.sh), LLVM=1 for a clang kernel.
vars=()
if [ -f "$tree/.ssnat-make-vars" ]; then
	mapfile -t vars <"$tree/.ssnat-make-vars"
elif [ "$(cfg "$tconfig" CONFIG_CC_IS_CLANG)" = y ]; then
	vars=(LLVM=1)
fi
[ -z "${RUSTC:-}" ] || vars+=(RUSTC="$RUSTC")
echo "xt_SSNAT: building for $kver against $tree with $have"
make -C "$tree" M="$src" "${vars[@]}" modules || die "build failed for kernel $kver (see above)"
got=$(modinfo -F vermagic "$src/xt_SSNAT.ko" 2>/dev/null | awk '{print $1}')
[ "$got" = "$kver" ] || die "built xt_SSNAT.ko has vermagic release '$got', not $kver"
