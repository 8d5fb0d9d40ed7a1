#!/usr/bin/env bash
# The Debian-kernel test, host side: `make debian` (cached trixie tree, metadata, module,
# vermagic and symbol checks), `make install DESTDIR=<tree> KO=...` into the tree,
# then one boot of Debian's unmodified vmlinuz-KVER with its own modules and the tree
# as the guest's root (virtme-ng, TCG) running tests/debian/guest.sh; afterwards
# `make uninstall DESTDIR=<tree>` and a check that the tree is as before.
# Prints PASS/FAIL lines; with SSNAT_SUMMARY adds "debian P F" to it.
# Usage: tests/debian/run.sh [KVER]
set -uo pipefail
. "$(dirname "$0")/../../scripts/env.sh"
kver=${1:-$DEBIAN_KVER_DEFAULT}
summary=${SSNAT_SUMMARY:-}
pass=0 fail=0
result() { # PASS|FAIL TEXT
	echo "$1 $2"
	if [ "$1" = PASS ]; then pass=$((pass + 1)); else fail=$((fail + 1)); fi
}
finish() {
	echo "debian tests: $pass passed, $fail failed"
	[ -z "$summary" ] || echo "debian $pass $fail" >>"$summary"
	[ "$fail" = 0 ]
	exit
}

# 1. The module for Debian's kernel, and the tree that boots it.
t0=$(date +%s)
if ! "$ssnat_repo/scripts/debian.sh" "$kver" >/tmp/ssnat-debian-build.$$ 2>&1; then
	cat /tmp/ssnat-debian-build.$$
	result FAIL "debian-build: make debian KVER=$kver: $(grep '^error:' /tmp/ssnat-debian-build.$$ | tail -n 1)"
	rm -f /tmp/ssnat-debian-build.$$
	finish
fi
cat /tmp/ssnat-debian-build.$$
dir=$(tail -n 1 /tmp/ssnat-debian-build.$$)
rm -f /tmp/ssnat-debian-build.$$
root=$dir/root
ko=$ssnat_repo/out/$kver/xt_SSNAT.ko
result PASS "debian-build ($(($(date +%s) - t0))s): xt_SSNAT.ko for $kver built in the trixie tree with $(chroot "$root" rustc --version); vermagic and imported symbols match Debian's"

# 2. Installed into the tree as a user would: make install DESTDIR=<tree>, with the
# module and the extension `make debian` built (the extension against trixie's
# libxtables), ssnatctl as built on the host.
xtlibdir=$(pkg-config --variable=xtlibdir xtables)
version=$(sed -n 's/^version = "\(.*\)"/\1/p' "$ssnat_repo/Cargo.toml" | head -1)
[ ! -f "$root/usr/local/share/xt_SSNAT/install-manifest" ] ||
	make -s -C "$ssnat_repo" uninstall DESTDIR="$root" >/dev/null
before=$(cd "$root" && find . -xdev \( -path ./ssnat-test -o -path ./build -o -path ./proc -o -path ./sys \) -prune -o -type f -print | sort | sha256sum)
if ! make -s -C "$ssnat_repo" install DESTDIR="$root" KO="$ko" EXT="$ssnat_repo/out/$kver/libxt_SSNAT.so" \
	>"$dir/install.log" 2>&1; then
	cat "$dir/install.log"
	result FAIL "debian-boot: make install DESTDIR=$root failed"
	finish
fi
grep -q '^depmod ' "$dir/install.log" || { cat "$dir/install.log"; result FAIL "debian-boot: install ran no depmod in the tree"; finish; }

# 3. Boot Debian's kernel with the tree as root.
t=$root/ssnat-test
out=$t/out
rm -rf "$t"
mkdir -p "$out" "$t/tests"
cp -r "$ssnat_repo/tests/lib" "$t/tests/"
cp "$ssnat_repo/tests/debian/guest.sh" "$t/guest.sh"
cat >"$out/env.sh" <<-ENV
	REPO=/ssnat-test
	BIN=/usr/local/sbin
	XTLIBDIR=$xtlibdir
	SSNAT_VERSION=$version
	KVER=$kver
ENV
vmlinuz=$root/usr/lib/modules/$kver/vmlinuz
[ -f "$vmlinuz" ] || vmlinuz=$root/boot/vmlinuz-$kver
start=$(date +%s)
for attempt in 1 2; do
	rm -rf "$out/rc" "$out/test.log" "$out/dmesg" "$out/.taken"
	timeout 900 vng --run "$vmlinuz" --root "$root" --disable-kvm --cpus 2 --memory 2G --verbose \
		--qemu-opts="-accel tcg,thread=single" --append "loglevel=4" \
		--rwdir "$out" --cwd "$root" \
		--exec "bash /ssnat-test/tests/lib/guest-main.sh 0 /ssnat-test/guest.sh /ssnat-test/out" \
		</dev/null >"$dir/console.log" 2>&1
	[ -f "$out/test.log" ] && break
	echo "note: debian-boot: the guest died before the test started (attempt $attempt)"
	cp "$dir/console.log" "$dir/console-boot$attempt.log"
done
secs=$(($(date +%s) - start))
reason=$(ssnat_guest_reason "$out" "$dir/console.log")
splat=$(grep -hE 'WARNING:|BUG:|Oops|KASAN|general protection|Kernel panic|Call Trace' "$out/dmesg" 2>/dev/null | head -3)
[ -z "$splat" ] || reason="${reason:+$reason; }kernel log: $splat"
mkdir -p "$ssnat_repo/tests/out"
rm -rf "$ssnat_repo/tests/out/debian"
cp -r "$out" "$ssnat_repo/tests/out/debian"
cp "$dir/console.log" "$dir/install.log" "$ssnat_repo/tests/out/debian/"
if [ -z "$reason" ]; then
	result PASS "debian-boot (${secs}s): $(grep -m1 '^PASS' "$out/test.log" | sed 's/^PASS: //')"
else
	result FAIL "debian-boot (${secs}s): $reason"
	sed 's/^/    | /' "$out/test.log" 2>/dev/null | tail -n 25
fi

# 4. make uninstall DESTDIR=<tree> leaves the tree as it was.
rm -rf "$t"
make -s -C "$ssnat_repo" uninstall DESTDIR="$root" >"$dir/uninstall.log" 2>&1 || { cat "$dir/uninstall.log"; result FAIL "debian-uninstall: make uninstall failed"; finish; }
after=$(cd "$root" && find . -xdev \( -path ./ssnat-test -o -path ./build -o -path ./proc -o -path ./sys \) -prune -o -type f -print | sort | sha256sum)
if [ "$before" = "$after" ] && ! grep -q xt_SSNAT "$root/lib/modules/$kver/modules.dep"; then
	result PASS "debian-uninstall: make uninstall DESTDIR=<tree> removed what install put there; modules.dep has no xt_SSNAT"
else
	result FAIL "debian-uninstall: the tree's files differ from before install"
fi
finish
