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
[ -f "$CARGO_TARGET_DIR/release/libxt_SSNAT.so" ] || die "libxt_SSNAT.so not built (run 'make userspace')"
xtlibdir=$(pkg-config --variable=xtlibdir xtables)
version=$(sed -n 's/^version = "\(.*\)"/\1/p' "$ssnat_repo/Cargo.toml" | head -1)
# The forwarding benchmark's C helpers (23-bench-smoke runs them in the guest), built
# here once: the guest sees the host's file system read-only.
helpers=$out_root/.bench-helpers
rm -rf "$helpers"
"$ssnat_repo/bench/build-helpers.sh" "$helpers" ||
	echo "warning: bench/build-helpers.sh failed: 23-bench-smoke will fail" >&2

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

# One guest per test; up to $jobs guests at a time (each TCG guest runs on one host
# thread). Results are printed in test order.
jobs=${SSNAT_QEMU_JOBS:-$(nproc)}

run_one() { # NAME: boots a guest for one test, writes $out/result
	local name=$1
	local script=${scripts[$name]:-$ssnat_repo/tests/qemu/$name.sh}
	local out=$out_root/$name
	rm -rf "$out"
	mkdir -p "$out"
	cat >"$out/env.sh" <<-ENV
		REPO=$ssnat_repo
		BIN=$out/bin
		XTLIBDIR=$xtlibdir
		SSNAT_VERSION=$version
	ENV
	# The userspace binaries, where the guest sees them (its /var is an overlay that
	# hides the host's cargo build directory in the cache).
	mkdir -p "$out/bin"
	cp "$CARGO_TARGET_DIR/release/libxt_SSNAT.so" "$CARGO_TARGET_DIR/release/ssnatctl" "$out/bin/"
	# A test with a line "# install: yes" gets what `make install DESTDIR=$out/root
	# DEPMOD=1` puts there (scripts/install.sh, the same step without the rebuild), and
	# uses nothing else of ours.
	if grep -q '^# install: yes' "$script"; then
		if ! DESTDIR=$out/root PREFIX=/usr/local KDIR=$kdir KO="" EXT="" KRELEASE="" XTLIBDIR="" DEPMOD=1 \
			"$ssnat_repo/scripts/install.sh" install >"$out/install.log" 2>&1; then
			{
				echo "FAIL $name: make install DESTDIR=$out/root failed"
				sed 's/^/    | /' "$out/install.log" | tail -n 10
			} >"$out/result"
			return
		fi
		echo "INSTALL_ROOT=$out/root" >>"$out/env.sh"
	fi
	cp "$helpers"/* "$out/bin/" 2>/dev/null || true
	# vCPUs: 2 unless the test asks otherwise with a line "# vcpus: N" (two measured
	# faster than one under single-threaded TCG).
	local cpus
	cpus=$(sed -n 's/^# vcpus: *\([0-9]*\).*/\1/p' "$script" | head -1)
	cpus=${cpus:-${SSNAT_QEMU_CPUS:-2}}
	local start attempt secs reason splat
	start=$(date +%s)
	# vng's own exit status means nothing here (see ENVIRONMENT.md): the guest writes
	# its status into $out/rc. TCG runs single-threaded: with one host thread per vCPU
	# (MTTCG) the guest kernel's live code patching (static keys, as netfilter flips
	# when hooks register) can race and Oops in int3, whatever the test does.
	# A guest that dies before it reaches the test (no test.log) is booted again, once.
	# loglevel=4: only warnings and worse go to the (slow, emulated) serial console;
	# the guest saves its full kernel log in $out/dmesg.
	for attempt in 1 2; do
		rm -f "$out/rc" "$out/test.log" "$out/dmesg"
		timeout 900 vng --run "$kdir" --disable-kvm --cpus "$cpus" --memory 2G --verbose \
			--qemu-opts="-accel tcg,thread=single" --append "loglevel=4" \
			--rwdir "$out" --cwd / \
			--exec "$ssnat_repo/tests/lib/guest-main.sh $script $out" \
			</dev/null >"$out/console.log" 2>&1
		[ -f "$out/test.log" ] && break
		echo "note: $name: the guest died before the test started (attempt $attempt)" >"$out/boot-note"
		cp "$out/console.log" "$out/console-boot$attempt.log"
	done
	secs=$(($(date +%s) - start))
	reason=$(ssnat_guest_reason "$out" "$out/console.log")
	# Any kernel splat fails the test, whatever the script said.
	splat=$(grep -hE 'WARNING:|BUG:|Oops|KASAN|general protection|Kernel panic|Call Trace' \
		"$out/dmesg" 2>/dev/null | head -3)
	[ -z "$splat" ] || reason="${reason:+$reason; }kernel log: $splat"
	{
		[ ! -f "$out/boot-note" ] || cat "$out/boot-note"
		if [ -z "$reason" ]; then
			echo "PASS $name (${secs}s): $(grep -m1 '^PASS' "$out/test.log" | sed 's/^PASS: //')"
		else
			echo "FAIL $name (${secs}s): $reason"
			sed 's/^/    | /' "$out/test.log" 2>/dev/null | tail -n 25
		fi
	} >"$out/result"
}

for name in "${tests[@]}"; do
	[ -n "${scripts[$name]:-}" ] || [ -f "$ssnat_repo/tests/qemu/$name.sh" ] || die "no test tests/qemu/$name.sh"
done
running=0
for name in "${tests[@]}"; do
	if [ "$running" -ge "$jobs" ]; then
		wait -n || true
		running=$((running - 1))
	fi
	run_one "$name" &
	running=$((running + 1))
done
wait

pass=0 fail=0
for name in "${tests[@]}"; do
	r=$out_root/$name/result
	if [ -f "$r" ] && head -n 2 "$r" | grep -q '^PASS '; then
		pass=$((pass + 1))
	else
		fail=$((fail + 1))
	fi
	cat "$r" 2>/dev/null || echo "FAIL $name: no result"
done
echo "qemu tests: $pass passed, $fail failed"
[ -z "$summary" ] || echo "qemu $pass $fail" >>"$summary"
[ "$fail" = 0 ]
