#!/usr/bin/env bash
# Runs the QEMU tests (virtme-ng, TCG), each in its own network namespaces inside the
# guest. Prints PASS/FAIL per test and a summary line.
# Usage: tests/run.sh [NAME...]      (NAME as in tests/qemu/NAME.sh; default: all of
#                                     the flavor's tests)
#        tests/run.sh --script FILE NAME   (one guest script from elsewhere, e.g. the demo)
# Environment: SSNAT_FLAVOR (release, default: our release kernel; or debug: the debug
# kernel of kernel/ssnat-debug.config and the module built for it, where each test is
# followed by a kmemleak scan), SSNAT_QEMU_JOBS (guests at a time; default: one per
# host core), SSNAT_QEMU_MEMORY (per guest; default 2G), SSNAT_SCALE (check, soak or
# quick: passed to the tests), SSNAT_FUZZ_SEED (the fuzzers' seed, to repeat a run),
# KDIR (kernel build tree),
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
# The packet tool's client (tests/lib/guest.sh), copied with them into each test's bin.
cc -O2 -Wall -Wextra -Werror -o "$helpers/ssnat-pkt" "$ssnat_repo/tests/lib/ssnat-pkt.c" ||
	die "cannot build tests/lib/ssnat-pkt.c"
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

# The tests form one queue that $jobs guests (each TCG guest runs on one host thread)
# share: each guest boots once and takes the next test that no guest has taken until
# none is left (tests/lib/guest-main.sh: a test is taken by making its directory's
# .taken, which only one guest can do), cleaning up after each one. The longest tests go
# first (a line "# seconds: N" in a test says about how long it takes on the release
# kernel), so that no guest is left with a long one at the end. Results are printed in
# test order.
jobs=${SSNAT_QEMU_JOBS:-$(nproc)}
queue=()
for name in "${tests[@]}"; do
	[ -n "${scripts[$name]:-}" ] || [ -f "$ssnat_repo/tests/qemu/$name.sh" ] || die "no test tests/qemu/$name.sh"
	prepare "$name" || continue
	est=$(sed -n 's/^# seconds: *\([0-9]*\).*/\1/p' "$(script_of "$name")" | head -1)
	queue+=("${est:-30} $name")
done
qfile=$out_root/.queue
while read -r _ name; do
	[ -z "$name" ] || echo "$(script_of "$name") $out_root/$name"
done < <(printf '%s\n' "${queue[@]}" | sort -k1,1nr -s) >"$qfile"
ntests=$(wc -l <"$qfile")
[ "$jobs" -le "$ntests" ] || jobs=$ntests

# run_guest ID: boots guest ID on the queue, again while tests are left that no guest
# took: once more if it died before it took one (at boot), and after a test that
# crashed the guest (its remaining share is not the others' to do: they may be gone).
# Each boot's time limit: 900 s per test of its share, and one more.
run_guest() {
	local id=$1 console boots=0 dead=0 before after left
	while :; do
		boots=$((boots + 1))
		console=$out_root/.console-$id.log
		[ $boots = 1 ] || console=$out_root/.console-$id-$boots.log
		before=$(taken_by "$id")
		# vng's own exit status means nothing here (see ENVIRONMENT.md): the guest writes
		# each test's status into its directory (rc). TCG runs single-threaded: with one
		# host thread per vCPU (MTTCG) the guest kernel's live code patching (static keys,
		# as netfilter flips when hooks register) can race and Oops in int3, whatever the
		# test does. loglevel=4: only warnings and worse go to the (slow, emulated) serial
		# console; the guest saves each test's kernel log in its dmesg. Two vCPUs (two
		# measured faster than one under single-threaded TCG; some tests need two).
		timeout $((900 * ((ntests + jobs - 1) / jobs + 1))) vng --run "$kdir" --disable-kvm \
			--cpus "${SSNAT_QEMU_CPUS:-2}" --memory "${SSNAT_QEMU_MEMORY:-2G}" --verbose \
			--qemu-opts="-accel tcg,thread=single" --append "loglevel=4" \
			--rwdir "$out_root" --cwd / \
			--exec "$ssnat_repo/tests/lib/guest-main.sh $id --queue $qfile" \
			</dev/null >"$console" 2>&1
		# (the tests this boot took see its console)
		after=$(taken_by "$id")
		for dir in $(comm -13 <(echo "$before" | tr ' ' '\n' | sort) <(echo "$after" | tr ' ' '\n' | sort)); do
			ln -sf "$console" "$dir/console.log"
		done
		left=$(awk '{print $2}' "$qfile" | while read -r dir; do [ -d "$dir/.taken" ] || echo "$dir"; done | wc -l)
		[ "$left" -gt 0 ] && [ $boots -le "$ntests" ] || break
		if [ "$before" = "$after" ]; then
			dead=$((dead + 1))
			echo "note: guest $id died before it took a test (boot $boots)" >>"$out_root/.boot-notes-$id"
			[ $dead -lt 2 ] || break
		fi
	done
}
# taken_by ID: the directories of the tests guest ID took.
taken_by() {
	local dir
	awk '{print $2}' "$qfile" | while read -r dir; do
		! grep -qsx "$1" "$dir/guest" || printf '%s ' "$dir"
	done
}

rm -f "$out_root"/.console-*.log "$out_root"/.boot-notes-*
start=$(date +%s)
for ((id = 0; id < jobs; id++)); do
	run_guest $id &
done
wait
for name in "${tests[@]}"; do
	out=$out_root/$name
	[ ! -f "$out/result" ] || continue # (prepare failed)
	id=$(cat "$out/guest" 2>/dev/null || echo 0)
	[ -e "$out/console.log" ] || ln -sf "$out_root/.console-$id.log" "$out/console.log"
	[ ! -f "$out_root/.boot-notes-$id" ] || cp "$out_root/.boot-notes-$id" "$out/boot-note"
	verdict "$name" "$(cat "$out/secs" 2>/dev/null || echo $(($(date +%s) - start)))"
done

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
