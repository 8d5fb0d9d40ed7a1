#!/usr/bin/env bash
# Build a kernel of ours into $SSNAT_CACHE/<key>, unless it is already there:
# build-kernel.sh [release|debug] (default $SSNAT_FLAVOR, see scripts/env.sh).
# Idempotent: a finished build leaves a stamp file; an interrupted one is resumed.
set -euo pipefail
. "$(dirname "$0")/env.sh"

flavor=${1:-$SSNAT_FLAVOR}
case "$flavor" in release | debug) ;; *) die "unknown kernel flavor '$flavor' (release or debug)" ;; esac
kdir=$(ssnat_kdir "$flavor")
kmake=$(ssnat_kmake_flags "$flavor")
fragments=("$ssnat_repo/kernel/ssnat.config")
[ "$flavor" = release ] || fragments+=("$ssnat_repo/kernel/ssnat-debug.config")
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
	# shellcheck disable=SC2086 # $kmake is empty or one word
	make -s $kmake rustavailable || die "the Rust toolchain is not usable for the kernel (see above)"
	echo "kernel: configuring $flavor (vng --kconfig + ${fragments[*]##*/})"
	cat "${fragments[@]}" >.ssnat-fragment.config
	vng --kconfig --config .ssnat-fragment.config >kconfig.log 2>&1 || { tail -n 20 kconfig.log >&2; die "vng --kconfig failed"; }
	if [ "$flavor" = debug ]; then
		# vng configures with GCC, where CONFIG_RUST cannot coexist with KASAN: Kconfig
		# drops RUST (and its debug options) without a word. Ask again, with clang.
		scripts/config --enable RUST --enable RUST_DEBUG_ASSERTIONS --enable RUST_OVERFLOW_CHECKS
	fi
	# vng puts its own options after the fragment (DWARF debug information among them):
	# the fragment's choices come last.
	scripts/kconfig/merge_config.sh -m .config .ssnat-fragment.config >/dev/null
	# shellcheck disable=SC2086
	make -s $kmake olddefconfig
	missing=0
	while IFS= read -r line; do
		case "$line" in
		CONFIG_*=n) grep -qx "# ${line%=n} is not set" .config || grep -qx "$line" .config ||
			! grep -q "^${line%=n}=" .config || { echo "kernel: config has ${line%=n} set" >&2; missing=1; } ;;
		CONFIG_*=*) grep -qx "$line" .config || { echo "kernel: config lacks $line" >&2; missing=1; } ;;
		esac
	done <.ssnat-fragment.config
	[ $missing = 0 ] || die "the kernel config does not have every option of ${fragments[*]##*/}"
fi
echo "kernel: building $flavor in $kdir (17 to 45 minutes on 2 cores)"
start=$(date +%s)
# shellcheck disable=SC2086
make $kmake -j"$(($(nproc) + 1))" bzImage modules >"$kdir/build.log" 2>&1 || {
	tail -n 30 "$kdir/build.log" >&2
	die "kernel build failed; full log in $kdir/build.log"
}
# `vng --run` wants to find modules.order and friends even with everything built in.
make -s $kmake modules_prepare >/dev/null
touch .ssnat-built
echo "kernel: built in $(($(date +%s) - start)) s"
