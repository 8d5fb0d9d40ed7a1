#!/usr/bin/env bash
# DKMS on the host: `dkms add` and `dkms build` of this tree for our kernel (private
# DKMS and source trees in a temporary folder, nothing installed), BUILD_EXCLUSIVE_CONFIG
# for a kernel without Rust, and scripts/dkms-build.sh's one-line refusals: no
# CONFIG_RUST, no xtables, no configuration, no Rust metadata (also Debian's real
# linux-headers when the Debian tree exists), another rustc (also the Debian tree's
# rebuilt metadata, made by trixie's rustc 1.85.1, against the host's rustc).
# Prints one PASS/FAIL line per check.
set -uo pipefail
. "$(dirname "$0")/../../scripts/env.sh"
kdir=${KDIR:-$(ssnat_kdir)}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
result() { echo "$1 dkms-$2"; }

version=$(sed -n 's/^version = "\(.*\)"/\1/p' "$ssnat_repo/Cargo.toml" | head -1)
dver=$(sed -n 's/^PACKAGE_VERSION="\(.*\)"/\1/p' "$ssnat_repo/dkms.conf")
if [ "$dver" = "$version" ]; then
	result PASS "version: dkms.conf PACKAGE_VERSION $dver = Cargo.toml's"
else
	result FAIL "version: dkms.conf PACKAGE_VERSION '$dver', Cargo.toml has '$version'"
fi

# A copy of the work tree as a user would hand it to `dkms add`.
src=$tmp/xt_SSNAT
mkdir -p "$src"
tar -C "$ssnat_repo" --exclude=./.git --exclude=./tests/out --exclude=./out --exclude=./target \
	--exclude='*.ko' --exclude='*.o' --exclude='*.mod*' --exclude='.*.cmd' -cf - . | tar -C "$src" -xf -
dk=(--sourcetree "$tmp/src" --dkmstree "$tmp/dkms")
mkdir -p "$tmp/src" "$tmp/dkms"

# 1. dkms build for our kernel.
rel=$(cat "$kdir/include/config/kernel.release" 2>/dev/null)
t0=$(date +%s)
if [ -z "$rel" ]; then
	result FAIL "build: no kernel tree at $kdir (include/config/kernel.release)"
elif ! dkms add "${dk[@]}" "$src" >"$tmp/add.log" 2>&1; then
	result FAIL "build: dkms add: $(tail -n 3 "$tmp/add.log" | tr '\n' ' ')"
elif ! dkms build "${dk[@]}" -m xt_SSNAT -v "$version" -k "$rel" --kernelsourcedir "$kdir" >"$tmp/build.log" 2>&1; then
	result FAIL "build: dkms build for $rel: $(grep -m1 'xt_SSNAT:\|Error' "$tmp/build.log" || tail -n 3 "$tmp/build.log")"
	sed 's/^/    | /' "$tmp/build.log" | tail -n 15
	cat "$tmp/dkms/xt_SSNAT/$version/build/make.log" 2>/dev/null | tail -n 15 | sed 's/^/    | /'
else
	ko=$(find "$tmp/dkms/xt_SSNAT/$version/$rel" -name 'xt_SSNAT.ko*' | head -1)
	magic=$(modinfo -F vermagic "$ko" 2>/dev/null | awk '{print $1}')
	status=$(dkms status "${dk[@]}" -m xt_SSNAT -v "$version" -k "$rel" 2>/dev/null)
	if [ -n "$ko" ] && [ "$magic" = "$rel" ] && echo "$status" | grep -q built; then
		result PASS "build ($(($(date +%s) - t0))s): dkms add + dkms build for our kernel $rel; module vermagic $magic; status: $status"
	else
		result FAIL "build: no module for $rel in the DKMS tree (ko '$ko', vermagic '$magic', status '$status')"
	fi
fi

# A fake kernel tree: fake DIR [CONFIG_LINE...]
fake() {
	local d=$tmp/$1
	shift
	mkdir -p "$d/include/config"
	printf '%s\n' "$@" >"$d/.config"
	echo "9.9.9-fake" >"$d/include/config/kernel.release"
	echo "$d"
}
# refusal NAME EXPECTED KVER KDIR [VAR=VALUE...]: dkms-build.sh must fail with one line
# on stderr, starting "xt_SSNAT: " and containing EXPECTED, and nothing on stdout.
refusal() {
	local name=$1 want=$2 kv=$3 kd=$4 rc=0
	shift 4
	env "$@" bash "$src/scripts/dkms-build.sh" "$kv" "$kd" >"$tmp/out" 2>"$tmp/err" || rc=$?
	if [ $rc != 0 ] && [ "$(wc -l <"$tmp/err")" = 1 ] && [ ! -s "$tmp/out" ] &&
		grep -q "^xt_SSNAT: .*$want" "$tmp/err"; then
		result PASS "$name: $(cat "$tmp/err")"
	else
		result FAIL "$name: exit $rc, stdout $(wc -l <"$tmp/out") lines, stderr: $(head -c 600 "$tmp/err")"
	fi
}
norust=$(fake norust 'CONFIG_NETFILTER_XTABLES=m' '# CONFIG_RUST is not set')
refusal no-rust "built without CONFIG_RUST" 9.9.9-fake "$norust"
noxt=$(fake noxt 'CONFIG_RUST=y' '# CONFIG_NETFILTER_XTABLES is not set')
refusal no-xtables "has no xtables" 9.9.9-fake "$noxt"
mkdir -p "$tmp/empty"
refusal no-config "no configuration of kernel" 9.9.9-fake "$tmp/empty"
nometa=$(fake nometa 'CONFIG_RUST=y' 'CONFIG_NETFILTER_XTABLES=y' 'CONFIG_RUSTC_VERSION_TEXT="rustc 1.85.1"')
refusal no-metadata "no Rust metadata for kernel 9.9.9-fake" 9.9.9-fake "$nometa"
other=$(fake other 'CONFIG_RUST=y' 'CONFIG_NETFILTER_XTABLES=y' \
	'CONFIG_RUSTC_VERSION_TEXT="rustc 1.85.1 (4eb161250 2025-03-15) (built from a source tarball)"')
mkdir -p "$other/rust"
echo x >"$other/rust/libkernel.rmeta"
echo x >"$other/rust/libmacros.so"
echo "all:" >"$other/Makefile"
refusal other-rustc "rustc is '$(rustc --version)' but kernel 9.9.9-fake was built by 'rustc 1.85.1" 9.9.9-fake "$other"

# Through dkms itself: BUILD_EXCLUSIVE_CONFIG="CONFIG_RUST" keeps it from even trying.
rc=0
dkms build "${dk[@]}" -m xt_SSNAT -v "$version" -k 9.9.9-fake --kernelsourcedir "$norust" >"$tmp/ex.log" 2>&1 || rc=$?
if [ $rc != 0 ] && grep -q BUILD_EXCLUSIVE "$tmp/ex.log"; then
	result PASS "exclusive: dkms build for a kernel without CONFIG_RUST refused (exit $rc): $(grep -m1 BUILD_EXCLUSIVE "$tmp/ex.log")"
else
	result FAIL "exclusive: dkms build for a kernel without CONFIG_RUST: exit $rc: $(tail -n 3 "$tmp/ex.log" | tr '\n' ' ')"
fi

# Debian's real trees, when `make debian` has made them.
droot=$(ssnat_debian_dir "$DEBIAN_KVER_DEFAULT")/root
if [ -f "$droot/usr/src/linux-rust-$DEBIAN_KVER_DEFAULT/.ssnat-metadata" ]; then
	refusal debian-headers "no Rust metadata for kernel $DEBIAN_KVER_DEFAULT" "$DEBIAN_KVER_DEFAULT" \
		"$droot/usr/src/linux-headers-$DEBIAN_KVER_DEFAULT"
	refusal debian-rustc "rustc is '$(rustc --version)' but kernel $DEBIAN_KVER_DEFAULT was built by 'rustc 1.85.1" \
		"$DEBIAN_KVER_DEFAULT" "$droot/usr/src/linux-rust-$DEBIAN_KVER_DEFAULT"
fi
