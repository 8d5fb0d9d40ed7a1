#!/usr/bin/env bash
# `make debian KVER=7.3.4+deb13-amd64`: xt_SSNAT.ko for Debian's own kernel, built in
# a cached Debian trixie tree with the toolchain Debian built that kernel with, and
# checked before anyone loads it.
#
#   1. tree: `debootstrap --variant=minbase trixie` into $SSNAT_CACHE (the archive URI
#      is the host's own), with the pinned packages of scripts/env.sh (rustc, rust-src,
#      bindgen, gcc-14, linux-headers-KVER, linux-source-SERIES from trixie-backports,
#      and the guest tools of the Debian-kernel test). Keyed by suite, pins, packages.
#   2. metadata: scripts/debian-kernel-metadata.sh in the tree: Debian's source with
#      Debian's .config and Module.symvers, `modules_prepare` -> /usr/src/linux-rust-KVER.
#   3. module: the work tree copied into the tree, built there by scripts/dkms-build.sh;
#      the extension libxt_SSNAT.so built there too, against trixie's libxtables
#      (1.8.11: its struct xt_option_entry is larger than bookworm's 1.8.9, so an
#      extension built on bookworm cannot run with trixie's iptables), by trixie's cargo
#      from the crates of Cargo.lock vendored on the host (`cargo vendor`, cached).
#   4. checks: vermagic equals that of Debian's own modules (linux-modules-KVER), and
#      every symbol the module imports is in Debian's Module.symvers.
#   5. boot (`debian.sh KVER boot`, for the test): linux-binary-KVER and
#      linux-modules-KVER unpacked into the tree, depmod, so that the tree boots
#      Debian's unmodified kernel under virtme-ng.
#
# Result: out/KVER/xt_SSNAT.ko and out/KVER/libxt_SSNAT.so in the work tree (install
# them with `make install KO=out/KVER/xt_SSNAT.ko EXT=out/KVER/libxt_SSNAT.so`); the
# tree's path on the last line.
# Steps 1, 2 and 5 are cached (stamps in the tree's folder); 3 and 4 run every time.
set -euo pipefail
. "$(dirname "$0")/env.sh"
kver=${1:-$DEBIAN_KVER_DEFAULT}
what=${2:-build}
[ "$(id -u)" = 0 ] || die "run as root (debootstrap, chroot)"
pins=$(ssnat_debian_pins "$kver")
[ -n "$pins" ] || die "no pinned toolchain for Debian kernel $kver in scripts/env.sh (known: $DEBIAN_KVER_DEFAULT)"
command -v debootstrap >/dev/null || die "debootstrap not installed (scripts/setup.sh installs it)"
dir=$(ssnat_debian_dir "$kver")
root=$dir/root
mkdir -p "$dir"
exec 9>"$dir/.lock"
flock 9

# in_tree CMD...: CMD in the tree (chroot) with /proc, /sys and /dev, in a mount
# namespace of its own, so that nothing stays mounted when it ends.
in_tree() {
	unshare --mount --propagation private -- bash -c '
		root=$1; shift
		mount -t proc proc "$root/proc" && mount -t sysfs sys "$root/sys" &&
			mount --rbind /dev "$root/dev" || exit 1
		exec chroot "$root" /usr/bin/env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
			HOME=/root LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive "$@"' bash "$root" "$@"
}
took() { echo "$1 $(($(date +%s) - $2)) s" >>"$dir/times"; echo "debian: $1 in $(($(date +%s) - $2)) s"; }

# 1. The tree.
if [ ! -f "$dir/.tree-done" ]; then
	uri=$(ssnat_debian_uri)
	suri=$(ssnat_debian_uri security)
	[ -n "$uri" ] || die "no Debian archive URI in the host's apt sources"
	rm -rf "$root"
	t0=$(date +%s)
	echo "debian: debootstrap --variant=minbase $DEBIAN_SUITE into $root"
	debootstrap --variant=minbase "$DEBIAN_SUITE" "$root" "$uri" >"$dir/debootstrap.log" 2>&1 || {
		tail -n 20 "$dir/debootstrap.log" >&2
		die "debootstrap failed (log: $dir/debootstrap.log)"
	}
	took debootstrap "$t0"
	t0=$(date +%s)
	rm -f "$root/etc/apt/sources.list"
	{
		printf 'Types: deb\nURIs: %s\nSuites: %s %s-updates %s-backports\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
			"$uri" "$DEBIAN_SUITE" "$DEBIAN_SUITE" "$DEBIAN_SUITE"
		[ -z "$suri" ] || printf '\nTypes: deb\nURIs: %s\nSuites: %s-security\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
			"$suri" "$DEBIAN_SUITE"
	} >"$root/etc/apt/sources.list.d/debian.sources"
	# The pinned versions stay: an upgrade inside the tree cannot take backports' rustc.
	echo "$pins" | awk -F= '{ printf "Package: %s\nPin: version %s\nPin-Priority: 1001\n\n", $1, substr($0, length($1) + 2) }' \
		>"$root/etc/apt/preferences.d/ssnat-pins"
	cp /etc/resolv.conf "$root/etc/resolv.conf" 2>/dev/null || true
	echo "debian: installing the pinned toolchain and tools into the tree"
	# shellcheck disable=SC2086
	pkgs=$(echo $pins $DEBIAN_TREE_PACKAGES)
	in_tree sh -c "apt-get -q update && apt-get -q install -y --no-install-recommends $pkgs" \
		>"$dir/apt.log" 2>&1 || {
		tail -n 20 "$dir/apt.log" >&2
		die "apt-get install in the tree failed (log: $dir/apt.log)"
	}
	in_tree apt-get clean
	took packages "$t0"
	touch "$dir/.tree-done"
fi

# 2. The kernel crate's metadata, from Debian's source and config.
if [ ! -f "$root/usr/src/linux-rust-$kver/.ssnat-metadata" ]; then
	t0=$(date +%s)
	install -m 0755 "$ssnat_repo/scripts/debian-kernel-metadata.sh" "$root/usr/local/sbin/ssnat-kernel-metadata"
	in_tree ssnat-kernel-metadata "$kver"
	took metadata "$t0"
fi

# 5. Debian's kernel image and modules in the tree (for the boot test; also gives
# the stock vermagic to compare with).
if [ ! -f "$dir/.boot-done" ]; then
	t0=$(date +%s)
	echo "debian: unpacking $(ssnat_debian_boot_debs "$kver") into the tree"
	in_tree sh -c "cd /var/cache/apt/archives && apt-get -q download $(ssnat_debian_boot_debs "$kver") &&
		for d in linux-binary-*.deb linux-modules-*.deb; do dpkg-deb -x \$d /; done && rm -f linux-*.deb &&
		depmod $kver" >"$dir/boot.log" 2>&1 || {
		tail -n 20 "$dir/boot.log" >&2
		die "fetching Debian's kernel $kver failed (log: $dir/boot.log)"
	}
	[ -f "$root/usr/lib/modules/$kver/vmlinuz" ] || [ -f "$root/boot/vmlinuz-$kver" ] ||
		die "no vmlinuz for $kver in the tree after unpacking linux-binary-$kver"
	took boot-files "$t0"
	touch "$dir/.boot-done"
fi
if [ "$what" = boot ]; then
	echo "$dir"
	exit 0
fi

# 3. The module, built in the tree from a copy of this work tree.
t0=$(date +%s)
# (Extracted with fresh mtimes: cargo's and kbuild's freshness checks compare mtimes, and
# the files of another copy of the sources, newer than these, may have been built here.)
b=$root/build/xt_SSNAT
rm -rf "$b"
mkdir -p "$b"
tar -C "$ssnat_repo" --exclude=./.git --exclude=./tests/out --exclude=./out --exclude=./target \
	--exclude='./ssnat-core/fuzz/target' --exclude='*.ko' --exclude='*.o' -cf - . | tar -C "$b" -xmf -
in_tree bash /build/xt_SSNAT/scripts/dkms-build.sh "$kver" "/lib/modules/$kver/build" >"$dir/module.log" 2>&1 || {
	grep -m1 '^xt_SSNAT: ' "$dir/module.log" | grep -v 'xt_SSNAT: building' >&2 || tail -n 30 "$dir/module.log" >&2
	die "building xt_SSNAT.ko for $kver failed (log: $dir/module.log)"
}
took module "$t0"


# 4. Before anyone loads it: the stock vermagic, and only symbols Debian exports.
ko=$b/xt_SSNAT.ko
stock_ko=$(find "$root/usr/lib/modules/$kver/kernel/net/netfilter" -name 'x_tables.ko*' | head -1)
[ -n "$stock_ko" ] || die "no x_tables module of Debian's kernel in the tree"
stock=$(modinfo -F vermagic "$stock_ko")
ours=$(modinfo -F vermagic "$ko")
[ "$ours" = "$stock" ] || die "vermagic '$ours' differs from Debian's own modules' '$stock'"
symvers=$root/usr/src/linux-headers-$kver/Module.symvers
nm -u "$ko" | awk '{print $2}' | sort -u >"$dir/imports"
awk '{print $2}' "$symvers" | sort -u >"$dir/exports"
missing=$(comm -23 "$dir/imports" "$dir/exports")
[ -z "$missing" ] || die "xt_SSNAT.ko imports symbols Debian's kernel does not export: $(echo $missing)"
nrust=$(grep -c '^_R' "$dir/imports" || true)
out=$ssnat_repo/out/$kver
mkdir -p "$out"
rm -f "$out/libxt_SSNAT.so"
cp "$ko" "$out/xt_SSNAT.ko"
echo "debian: vermagic '$ours' = Debian's; all $(wc -l <"$dir/imports") imported symbols ($nrust Rust) in Debian's Module.symvers"

# The extension, against the tree's libxtables, offline from vendored crates.
t0=$(date +%s)
lockhash=$(sha256sum "$ssnat_repo/Cargo.lock" | cut -c1-12)
if [ "$(cat "$root/build/vendor/.lock-hash" 2>/dev/null)" != "$lockhash" ]; then
	rm -rf "$root/build/vendor"
	(cd "$ssnat_repo" && cargo vendor --locked -q "$root/build/vendor" >/dev/null) ||
		die "cargo vendor failed (crates of Cargo.lock for the tree's offline build)"
	echo "$lockhash" >"$root/build/vendor/.lock-hash"
fi
mkdir -p "$root/build/cargo-home"
printf '[source.crates-io]\nreplace-with = "vendored"\n\n[source.vendored]\ndirectory = "/build/vendor"\n' \
	>"$root/build/cargo-home/config.toml"
in_tree env CARGO_HOME=/build/cargo-home LIBCLANG_PATH=/usr/lib/llvm-19/lib sh -c \
	'cd /build/xt_SSNAT && cargo build --release --locked --offline -p libxt_SSNAT --target-dir /build/ext-target' \
	>"$dir/ext.log" 2>&1 || {
	grep -m3 -A6 '^error' "$dir/ext.log" >&2 || tail -n 20 "$dir/ext.log" >&2
	die "building libxt_SSNAT.so against the tree's libxtables $(in_tree pkg-config --modversion xtables) failed (log: $dir/ext.log; the module is in $out)"
}
took extension "$t0"
cp "$root/build/ext-target/release/libxt_SSNAT.so" "$out/libxt_SSNAT.so"
echo "debian: $out/xt_SSNAT.ko, $out/libxt_SSNAT.so (libxtables $(in_tree pkg-config --modversion xtables))"
echo "debian: install with make install KO=out/$kver/xt_SSNAT.ko EXT=out/$kver/libxt_SSNAT.so"
echo "$dir"
