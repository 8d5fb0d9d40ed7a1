#!/usr/bin/env bash
# Runs the QEMU tests (virtme-ng, TCG), each in its own network namespaces inside the
# guest. Prints PASS/FAIL per test and a summary line.
# Usage: tests/run.sh [NAME...]      (NAME as in tests/qemu/NAME.sh; default: all of
#                                     the flavor's tests)
#        tests/run.sh --script FILE NAME   (one guest script from elsewhere, e.g. the demo)
# Environment: SSNAT_FLAVOR (release, default: our release kernel, one boot per test;
# or debug: the debug kernel of kernel/ssnat-debug.config and the module built for it,
# several tests per boot, each followed by unloading the module and a kmemleak scan),
# SSNAT_PER_BOOT (tests per boot; debug default: all of them over $SSNAT_QEMU_JOBS
# guests), SSNAT_SCALE (check, soak or quick: passed to the tests), SSNAT_FUZZ_SEED (the
# fuzzers' seed, to repeat a run), KDIR (kernel build tree),
# SSNAT_KO (the module), SSNAT_TEST_OUT (results; default tests/out, or tests/out-debug).
# A test with a line "# kernel: debug" runs only on the debug kernel, "# kernel:
# release" only on the release one.
set -uo pipefail
. "$(dirname "$0")/../scripts/env.sh"
flavor=$SSNAT_FLAVOR
kdir=${KDIR:-$(ssnat_kdir "$flavor")}
if [ "$flavor" = debug ]; then
	ko=${SSNAT_KO:-$ssnat_repo/out/debug/module/xt_SSNAT.ko}
	out_root=${SSNAT_TEST_OUT:-$ssnat_repo/tests/out-debug}
else
	ko=${SSNAT_KO:-$ssnat_repo/xt_SSNAT.ko}
	out_root=${SSNAT_TEST_OUT:-$ssnat_repo/tests/out}
fi
summary=${SSNAT_SUMMARY:-}
[ -f "$kdir/arch/x86/boot/bzImage" ] || die "no kernel at $kdir (run 'make kernel', or 'make kernel-debug')"
[ -f "$ko" ] || die "$ko not built (run 'make module', or 'make module-debug')"
[ -f "$CARGO_TARGET_DIR/release/libxt_SSNAT.so" ] || die "libxt_SSNAT.so not built (run 'make userspace')"
xtlibdir=$(pkg-config --variable=xtlibdir xtables)
version=$(sed -n 's/^version = "\(.*\)"/\1/p' "$ssnat_repo/Cargo.toml" | head -1)
mkdir -p "$out_root"
# The forwarding benchmark's C helpers (23-bench-smoke runs them in the guest), built
# here once: the guest sees the host's file system read-only.
helpers=$out_root/.bench-helpers
rm -rf "$helpers"
"$ssnat_repo/bench/build-helpers.sh" "$helpers" ||
	echo "warning: bench/build-helpers.sh failed: 23-bench-smoke will fail" >&2
# What fails a test in its kernel log, whatever the script said: oopses and warnings,
# and every report of the debug kernel's checkers (KASAN, UBSAN, lockdep, RCU, atomic
# sleep, refcount, list debugging, kmemleak).
splat_re='WARNING:|BUG:|Oops|KASAN|UBSAN|general protection|Kernel panic|Call Trace|'\
'possible circular locking|possible recursive locking|suspicious RCU usage|inconsistent lock state|'\
'sleeping function called from invalid context|lock held when returning|refcount_t:|'\
'list_add corruption|list_del corruption|kmemleak: .*suspected memory leak'

declare -A scripts=()
if [ "${1:-}" = --script ]; then
	scripts[$3]=$2
	tests=("$3")
elif [ $# -gt 0 ]; then
	tests=("$@")
else
	tests=()
	for f in "$ssnat_repo"/tests/qemu/*.sh; do
		k=$(sed -n 's/^# kernel: *\([a-z]*\).*/\1/p' "$f" | head -1)
		[ -z "$k" ] || [ "$k" = "$flavor" ] || continue
		tests+=("$(basename "$f" .sh)")
	done
fi

# Up to $jobs guests at a time (each TCG guest runs on one host thread). Results are
# printed in test order.
jobs=${SSNAT_QEMU_JOBS:-$(nproc)}
if [ "$flavor" = debug ]; then
	per_boot=${SSNAT_PER_BOOT:-$(((${#tests[@]} + jobs - 1) / jobs))}
else
	per_boot=${SSNAT_PER_BOOT:-1}
fi

script_of() { echo "${scripts[$1]:-$ssnat_repo/tests/qemu/$1.sh}"; }

# prepare NAME: the test's shared directory, its env.sh and binaries. Returns 1 (with
# the result written) if the test cannot run.
prepare() {
	local name=$1 script out
	script=$(script_of "$name")
	out=$out_root/$name
	rm -rf "$out"
	mkdir -p "$out"
	cat >"$out/env.sh" <<-ENV
		REPO=$ssnat_repo
		BIN=$out/bin
		XTLIBDIR=$xtlibdir
		SSNAT_VERSION=$version
		SSNAT_SCALE=${SSNAT_SCALE:-check}
		SSNAT_FLAVOR=$flavor
		SSNAT_KO=$ko
	ENV
	# (a fuzzer's seed, to repeat a run)
	[ -z "${SSNAT_FUZZ_SEED:-}" ] || echo "SSNAT_FUZZ_SEED=$SSNAT_FUZZ_SEED" >>"$out/env.sh"
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
			return 1
		fi
		echo "INSTALL_ROOT=$out/root" >>"$out/env.sh"
	fi
	cp "$helpers"/* "$out/bin/" 2>/dev/null || true
}

# memcg_oom_out DMESG: the kernel log without the reports of OOM kills inside a memory
# cgroup (from "invoked oom-killer" to "Memory cgroup out of memory: Killed process"):
# a test that sets memory.max may get one (35-limits), and each carries a Call Trace.
# A global OOM's report stays.
memcg_oom_out() {
	awk '/invoked oom-killer:/ { inb = 1; blk = "" }
		inb { blk = blk $0 "\n"
			if (/Memory cgroup out of memory: Killed process/) inb = 0
			else if (/Out of memory: Killed process/) { printf "%s", blk; inb = 0 }
			next }
		{ print }
		END { if (inb) printf "%s", blk }' "$1" 2>/dev/null
}

# verdict NAME SECONDS: writes $out/result from what the guest left in $out.
verdict() {
	local name=$1 secs=$2 out=$out_root/$1 reason splat
	reason=$(ssnat_guest_reason "$out" "$out/console.log")
	splat=$(memcg_oom_out "$out/dmesg" | grep -hE "$splat_re" | head -3)
	[ -z "$splat" ] || reason="${reason:+$reason; }kernel log: $splat"
	if [ -s "$out/kmemleak" ]; then
		reason="${reason:+$reason; }kmemleak: $(grep -c '^unreferenced object' "$out/kmemleak") leaks: $(sed -n '1,2p; /backtrace/,+6p' "$out/kmemleak" | head -n 9 | tr -s ' \n' ' ')"
	fi
	[ ! -f "$out/cleanup" ] || reason="${reason:+$reason; }after the test: $(cat "$out/cleanup")"
	{
		[ ! -f "$out/boot-note" ] || cat "$out/boot-note"
		if [ -f "$out/boot-dmesg" ] && grep -qE "$splat_re" "$out/boot-dmesg"; then
			echo "note: $name: the boot, before any test, logged: $(grep -m1 -E 'BUG:|WARNING:' "$out/boot-dmesg")"
		fi
		if [ -z "$reason" ]; then
			echo "PASS $name (${secs}s): $(grep -m1 '^PASS' "$out/test.log" | sed 's/^PASS: //')"
		else
			echo "FAIL $name (${secs}s): $reason"
			sed 's/^/    | /' "$out/test.log" 2>/dev/null | tail -n 25
		fi
	} >"$out/result"
}

# run_boot NAME...: boots one guest that runs the tests NAME... in turn.
run_boot() {
	local names=() args=() name first cpus start attempt secs console
	for name in "$@"; do
		prepare "$name" || continue
		names+=("$name")
		args+=("$(script_of "$name")" "$out_root/$name")
	done
	[ ${#names[@]} -gt 0 ] || return 0
	first=$out_root/${names[0]}
	console=$first/console.log
	# vCPUs: 2 unless the (first) test asks otherwise with a line "# vcpus: N" (two
	# measured faster than one under single-threaded TCG).
	cpus=$(sed -n 's/^# vcpus: *\([0-9]*\).*/\1/p' "$(script_of "${names[0]}")" | head -1)
	cpus=${cpus:-${SSNAT_QEMU_CPUS:-2}}
	start=$(date +%s)
	# vng's own exit status means nothing here (see ENVIRONMENT.md): the guest writes
	# each test's status into its directory (rc). TCG runs single-threaded: with one
	# host thread per vCPU (MTTCG) the guest kernel's live code patching (static keys,
	# as netfilter flips when hooks register) can race and Oops in int3, whatever the
	# test does. A guest that dies before it reaches the first test (no test.log) is
	# booted again, once. loglevel=4: only warnings and worse go to the (slow,
	# emulated) serial console; the guest saves each test's kernel log in its dmesg.
	for attempt in 1 2; do
		for name in "${names[@]}"; do
			rm -f "$out_root/$name/"{rc,test.log,dmesg,kmemleak,cleanup,secs}
		done
		timeout $((900 * ${#names[@]})) vng --run "$kdir" --disable-kvm --cpus "$cpus" --memory 2G --verbose \
			--qemu-opts="-accel tcg,thread=single" --append "loglevel=4" \
			--rwdir "$out_root" --cwd / \
			--exec "$ssnat_repo/tests/lib/guest-main.sh ${args[*]}" \
			</dev/null >"$console" 2>&1
		[ -f "$first/test.log" ] && break
		echo "note: ${names[0]}: the guest died before the test started (attempt $attempt)" >"$first/boot-note"
		cp "$console" "$first/console-boot$attempt.log"
	done
	for name in "${names[@]}"; do
		[ "$name" = "${names[0]}" ] || ln -sf "$console" "$out_root/$name/console.log"
		secs=$(cat "$out_root/$name/secs" 2>/dev/null || echo $(($(date +%s) - start)))
		verdict "$name" "$secs"
	done
}

for name in "${tests[@]}"; do
	[ -n "${scripts[$name]:-}" ] || [ -f "$ssnat_repo/tests/qemu/$name.sh" ] || die "no test tests/qemu/$name.sh"
done
running=0
for ((i = 0; i < ${#tests[@]}; i += per_boot)); do
	if [ "$running" -ge "$jobs" ]; then
		wait -n || true
		running=$((running - 1))
	fi
	run_boot "${tests[@]:i:per_boot}" &
	running=$((running + 1))
done
wait

pass=0 fail=0
for name in "${tests[@]}"; do
	r=$out_root/$name/result
	if [ -f "$r" ] && grep -v "^note: " "$r" | head -n 1 | grep -q "^PASS "; then
		pass=$((pass + 1))
	else
		fail=$((fail + 1))
	fi
	cat "$r" 2>/dev/null || echo "FAIL $name: no result"
done
echo "qemu tests ($flavor kernel): $pass passed, $fail failed"
[ -z "$summary" ] || echo "qemu-$flavor $pass $fail" >>"$summary"
[ "$fail" = 0 ]
