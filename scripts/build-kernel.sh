#!/usr/bin/env bash
# Build the custom kernel into $SSNAT_CACHE/<key>, unless it is already there.
# Idempotent: a finished build leaves a stamp file; an interrupted one is resumed.
set -euo pipefail
. "$(dirname "$0")/env.sh"

kdir=$(ssnat_kdir)
if [ -f "$kdir/.ssnat-built" ]; then
	echo "kernel: cached at $kdir"
	exit 0
fi
"$ssnat_repo/scripts/setup.sh"

src_tar=$SSNAT_CACHE/linux-source-$KERNEL_SERIES-deb/usr/src/linux-source-$KERNEL_SERIES.tar.xz
if [ ! -f "$src_tar" ]; then
	"$ssnat_repo/scripts/fetch-debian.sh" "$SSNAT_CACHE" "$KERNEL_SUITE" \
		"linux-source-$KERNEL_SERIES=$KERNEL_DEB_VERSION" "$SSNAT_CACHE/linux-source-$KERNEL_SERIES-deb"
fi
avail=$(df -Pk "$SSNAT_CACHE" | awk 'NR==2 {print $4}')
[ "$avail" -gt $((8 * 1024 * 1024)) ] || die "kernel build needs 8 GiB free in $SSNAT_CACHE ($((avail / 1024)) MiB free)"

if [ ! -f "$kdir/Makefile" ]; then
	echo "kernel: unpacking $(basename "$src_tar") into $kdir"
	rm -rf "$kdir.tmp"
	mkdir -p "$kdir.tmp"
	tar -xf "$src_tar" -C "$kdir.tmp" --strip-components=1
	mv "$kdir.tmp" "$kdir"
fi
cd "$kdir"
if [ ! -f .config ] || ! grep -q '^CONFIG_RUST=y' .config; then
	make -s rustavailable || die "the Rust toolchain is not usable for the kernel (see above)"
	echo "kernel: configuring (vng --kconfig + kernel/ssnat.config)"
	vng --kconfig --config "$ssnat_repo/kernel/ssnat.config" >/dev/null
	make -s olddefconfig
	missing=0
	while IFS= read -r line; do
		case "$line" in CONFIG_*=y) grep -qx "$line" .config || { echo "kernel: config lacks $line" >&2; missing=1; } ;; esac
	done <"$ssnat_repo/kernel/ssnat.config"
	[ $missing = 0 ] || die "the kernel config does not have every option of kernel/ssnat.config"
fi
echo "kernel: building in $kdir (about 17 minutes on 2 cores)"
start=$(date +%s)
make -j"$(($(nproc) + 1))" bzImage modules >"$kdir/build.log" 2>&1 || {
	tail -n 30 "$kdir/build.log" >&2
	die "kernel build failed; full log in $kdir/build.log"
}
# `vng --run` wants to find modules.order and friends even with everything built in.
make -s modules_prepare >/dev/null
touch .ssnat-built
echo "kernel: built in $(($(date +%s) - start)) s"
