#!/usr/bin/env bash
# Rebuild the Rust metadata of Debian's own kernel KVER (rust/*.rmeta, libmacros.so),
# which Debian's linux-headers packages do not ship, from Debian's source and config.
# Runs on Debian trixie (a real system, or the tree `make debian` prepares) with the
# toolchain Debian built the kernel with installed: the exact rustc of
# CONFIG_RUSTC_VERSION_TEXT, its rust-src, bindgen, gcc-14, and
# linux-headers-KVER and linux-source-SERIES of the same version.
#
# Usage: debian-kernel-metadata.sh KVER [DEST]     (DEST: /usr/src/linux-rust-KVER)
# Result: DEST, a kernel tree with Debian's .config and Module.symvers after
# `modules_prepare`, that `make -C DEST M=... modules` (or scripts/dkms-build.sh)
# builds Rust modules against. Nothing else on the system is changed.
set -euo pipefail
kver=${1:?usage: debian-kernel-metadata.sh KVER [DEST]}
dest=${2:-/usr/src/linux-rust-$kver}
die() { echo "debian-kernel-metadata: $*" >&2; exit 1; }

hdr=/usr/src/linux-headers-$kver
[ -f "$hdr/.config" ] && [ -f "$hdr/Module.symvers" ] ||
	die "$hdr/.config or Module.symvers missing: install linux-headers-$kver"
if [ -f "$dest/.ssnat-metadata" ]; then
	echo "kernel metadata: cached in $dest"
	exit 0
fi
cfg() { sed -n "s/^$1=\"\{0,1\}\([^\"]*\)\"\{0,1\}$/\1/p" "$hdr/.config"; }
[ "$(cfg CONFIG_RUST)" = y ] || die "kernel $kver has no CONFIG_RUST: no Rust module can run on it"

# The toolchain, as the kernel's config names it.
want_rustc=$(cfg CONFIG_RUSTC_VERSION_TEXT)
have_rustc=$(rustc --version 2>/dev/null || true)
[ "$have_rustc" = "$want_rustc" ] ||
	die "rustc is '${have_rustc:-missing}', kernel $kver was built by '$want_rustc' (install that exact rustc)"
rver=$(echo "$want_rustc" | awk '{print $2}')
rust_lib_src=${RUST_LIB_SRC:-/usr/src/rustc-$rver/library}
[ -d "$rust_lib_src/core" ] || die "no Rust library source in $rust_lib_src (install rust-src of rustc $rver)"
cc=$(cfg CONFIG_CC_VERSION_TEXT | awk '{print $1}')
command -v "$cc" >/dev/null || die "compiler $cc (CONFIG_CC_VERSION_TEXT) not installed"
series=$(echo "$kver" | sed -n 's/^\([0-9]*\.[0-9]*\).*/\1/p')
tarball=/usr/src/linux-source-$series.tar.xz
[ -f "$tarball" ] || die "$tarball missing: install linux-source-$series (same version as linux-headers-$kver)"

# make variables: CC as Debian built it (x86_64-linux-gnu-gcc-14), with the same
# binutils prefix; HOSTCC the same gcc unprefixed.
cross=${cc%gcc*}
ccver=${cc##*gcc}
arch=$(dpkg --print-architecture 2>/dev/null || echo amd64)
case $arch in amd64) karch=x86 ;; arm64) karch=arm64 ;; *) karch=$arch ;; esac
makevars=(ARCH="$karch" KERNELRELEASE="$kver" CROSS_COMPILE="$cross" CC="$cc" HOSTCC="gcc$ccver")

t0=$(date +%s)
rm -rf "$dest.tmp"
mkdir -p "$dest.tmp"
echo "kernel metadata: unpacking $(basename "$tarball") into $dest"
tar -xf "$tarball" -C "$dest.tmp" --strip-components=1
cp "$hdr/.config" "$hdr/Module.symvers" "$dest.tmp/"
cd "$dest.tmp"
echo "kernel metadata: make ${makevars[*]} modules_prepare (about 2 to 4 minutes)"
export RUST_LIB_SRC=$rust_lib_src
{
	make -s "${makevars[@]}" olddefconfig &&
		make -j"$(($(nproc) + 1))" "${makevars[@]}" modules_prepare
} >"$dest.tmp/ssnat-prepare.log" 2>&1 || {
	tail -n 30 "$dest.tmp/ssnat-prepare.log" >&2
	die "modules_prepare failed (log: $dest.tmp/ssnat-prepare.log)"
}
for f in rust/libkernel.rmeta rust/libmacros.so include/config/kernel.release; do
	[ -e "$f" ] || die "modules_prepare did not make $f"
done
[ "$(cat include/config/kernel.release)" = "$kver" ] || die "kernel.release is $(cat include/config/kernel.release), not $kver"
grep -q '^CONFIG_RUST=y' .config || die "olddefconfig dropped CONFIG_RUST (toolchain not accepted: see rustavailable)"
# Module.symvers is Debian's own; modules_prepare does not touch it. The kernel crate's
# exported Rust symbols (their v0 names hash rustc's version string and the crate)
# must all be there, or modules would not link against the running kernel.
rust_exports() {
	if [ -f rust/exports_kernel_generated.h ]; then
		grep -o 'EXPORT_SYMBOL_RUST_GPL([^)]*)' rust/exports_kernel_generated.h | sed 's/.*(\(.*\))/\1/'
	else
		"${cross}nm" --defined-only -g rust/kernel.o | awk '$2 ~ /^[TDRB]$/ && $3 ~ /^_R/ {print $3}'
	fi | sort -u
}
rust_exports >ssnat-rust-exports
n=$(wc -l <ssnat-rust-exports)
[ "$n" -gt 0 ] || die "found no exported symbol of the rebuilt kernel crate"
missing=$(comm -23 ssnat-rust-exports <(awk '{print $2}' Module.symvers | sort -u) | head -5)
[ -z "$missing" ] || die "Rust symbols of the rebuilt kernel crate missing from Debian's Module.symvers (another rustc or config?): $missing"
printf '%s\n' "${makevars[@]}" >.ssnat-make-vars
echo "$want_rustc" >.ssnat-metadata
cd /
rm -rf "$dest"
mv "$dest.tmp" "$dest"
echo "kernel metadata: $dest ready in $(($(date +%s) - t0)) s ($n Rust symbols of the kernel crate, all in Debian's Module.symvers)"
