#!/usr/bin/env bash
# Runs the QEMU tests: one guest boot per test (virtme-ng, TCG), each in its own
# network namespaces inside the guest. Prints PASS/FAIL per test and a summary line.
# Usage: tests/run.sh [NAME...]      (NAME as in tests/qemu/NAME.sh; default: all)
#        tests/run.sh --script FILE NAME   (one guest script from elsewhere, e.g. the demo)
# Environment: KDIR (kernel build tree), SSNAT_TEST_OUT (results; default tests/out).
set -uo pipefail
. "$(dirname "$0")/../scripts/env.sh"
kdir=${KDIR:-$(ssnat_kdir)}
out_root=${SSNAT_TEST_OUT:-$ssnat_repo/tests/out}
summary=${SSNAT_SUMMARY:-}
[ -f "$kdir/arch/x86/boot/bzImage" ] || die "no kernel at $kdir (run 'make kernel')"
[ -f "$ssnat_repo/xt_SSNAT.ko" ] || die "xt_SSNAT.ko not built (run 'make module')"
[ -f "$ssnat_repo/target/release/libxt_SSNAT.so" ] || die "libxt_SSNAT.so not built (run 'make userspace')"
xtlibdir=$(pkg-config --variable=xtlibdir xtables)
version=$(sed -n 's/^version = "\(.*\)"/\1/p' "$ssnat_repo/Cargo.toml" | head -1)

declare -A scripts=()
if [ "${1:-}" = --script ]; then
	scripts[$3]=$2
	tests=("$3")
elif [ $# -gt 0 ]; then
	tests=("$@")
else
	tests=()
	for f in "$ssnat_repo"/tests/qemu/*.sh; do tests+=("$(basename "$f" .sh)"); done
fi

pass=0 fail=0
for name in "${tests[@]}"; do
	script=${scripts[$name]:-$ssnat_repo/tests/qemu/$name.sh}
	[ -f "$script" ] || die "no test $script"
	out=$out_root/$name
	rm -rf "$out"
	mkdir -p "$out"
	cat >"$out/env.sh" <<-ENV
		REPO=$ssnat_repo
		XTLIBDIR=$xtlibdir
		SSNAT_VERSION=$version
	ENV
	start=$(date +%s)
	# vng's own exit status means nothing here (see ENVIRONMENT.md): the guest writes
	# its status into $out/rc.
	timeout 900 vng --run "$kdir" --disable-kvm --cpus 2 --memory 2G --verbose \
		--rwdir "$out" --cwd / \
		--exec "$ssnat_repo/tests/lib/guest-main.sh $script $out" \
		</dev/null >"$out/console.log" 2>&1
	secs=$(($(date +%s) - start))
	reason=""
	if [ ! -f "$out/rc" ]; then
		reason="the guest wrote no status (crash or timeout; see $out/console.log)"
	elif [ "$(cat "$out/rc")" != 0 ]; then
		reason=$(grep -m1 '^FAIL' "$out/test.log" || tail -n 3 "$out/test.log" | tr '\n' ' ')
	fi
	# Any kernel splat fails the test, whatever the script said.
	splat=$(grep -hE 'WARNING:|BUG:|Oops|KASAN|general protection|Kernel panic|Call Trace' \
		"$out/dmesg" 2>/dev/null | head -3)
	[ -z "$splat" ] || reason="${reason:+$reason; }kernel log: $splat"
	if [ -z "$reason" ]; then
		pass=$((pass + 1))
		echo "PASS $name (${secs}s): $(grep -m1 '^PASS' "$out/test.log" | sed 's/^PASS: //')"
	else
		fail=$((fail + 1))
		echo "FAIL $name (${secs}s): $reason"
		sed 's/^/    | /' "$out/test.log" | tail -n 25
	fi
done
echo "qemu tests: $pass passed, $fail failed"
[ -z "$summary" ] || echo "qemu $pass $fail" >>"$summary"
[ "$fail" = 0 ]
