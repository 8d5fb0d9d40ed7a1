#!/usr/bin/env bash
# Runs the test stages given and ends with one line "N passed, N failed" over all of
# them. Stages: host (cargo tests), fuzz (the fuzz targets), qemu (tests/run.sh
# on the release kernel), debug (on the debug kernel: a selection), soak (all of them
# there, at soak scale), install (make install/uninstall, man pages and DKMS on the
# host, tests/host/*.sh), debian (Debian's own kernel, tests/debian/run.sh).
# Stages joined by "+" (say debug+debian) run at the same time, each printing when it is
# done: a stage that leaves a host core idle (one guest, or one fuzzer thread) lends it
# to the other.
set -uo pipefail
. "$(dirname "$0")/env.sh"
cd "$ssnat_repo"
summary=$(mktemp)
trap 'rm -f "$summary"' EXIT
status=0
# stage NAME: runs one stage; returns 1 if it failed.
stage() {
	local stage=$1 t0=$SECONDS status=0
	case $stage in
	host)
		echo "== cargo test --workspace"
		log=$(mktemp)
		cargo test -q --workspace --release 2>&1 | tee "$log"
		[ "${PIPESTATUS[0]}" = 0 ] || status=1
		awk '/^test result:/ {
			for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i }
		} END { printf "host %d %d\n", p, f }' "$log" >>"$summary"
		# a build failure counts as one failed test
		[ $status = 0 ] || grep -q 'test result' "$log" || echo "host 0 1" >>"$summary"
		rm -f "$log"
		;;
	fuzz)
		# The fuzz targets, each for a fixed budget: the pure core's packet path, and the
		# call follower's SIP/SDP parsing and call tracking (seeded with whole calls). cargo
		# fuzz needs nightly-only flags (sanitizers); RUSTC_BOOTSTRAP lets the stable rustc
		# take them.
		secs=${SSNAT_FUZZ_SECONDS:-30}
		for t in ssnat-core/fuzz:packet: follow/fuzz:sip:seeds/sip; do
			IFS=: read -r dir target seeds <<<"$t"
			echo "== cargo fuzz run $target (${secs}s, $dir)"
			mkdir -p "$dir/corpus/$target"
			if (cd "$dir" && RUSTC_BOOTSTRAP=1 cargo fuzz run "$target" --fuzz-dir . \
				--target-dir "$SSNAT_CACHE/fuzz-target" "corpus/$target" $seeds -- \
				-max_total_time="$secs" -print_final_stats=1 >fuzz.log 2>&1); then
				grep -E '^Done|stat::number_of_executed_units' "$dir/fuzz.log" | head -2
				echo "fuzz 1 0" >>"$summary"
			else
				tail -n 30 "$dir/fuzz.log"
				echo "fuzz 0 1" >>"$summary"
				status=1
			fi
		done
		;;
	qemu)
		echo "== QEMU tests on the release kernel (virtme-ng, TCG; two guests share the tests)"
		SSNAT_FLAVOR=release SSNAT_SUMMARY=$summary tests/run.sh || status=1
		;;
	debug)
		# The three fuzzers at their quick scale (300 rule blobs, 3,000 netlink messages,
		# 5,000 packets): every mapping form, both families and both backends, checkentry
		# and the control plane, each followed by an unload and a kmemleak scan. Two
		# guests share them: the packet fuzzer, the longest, starts first in one, the rule
		# and netlink fuzzers follow each other in the other.
		# The rest, 35-limits (debug only) included, runs there in `make soak` (under TCG
		# the debug kernel is 4 to 16 times slower); SSNAT_DEBUG_TESTS chooses others.
		tests="${SSNAT_DEBUG_TESTS:-31-fuzz-rules 32-fuzz-netlink 30-fuzz-packets 36-profile-entries}"
		echo "== QEMU tests on the debug kernel (KASAN, UBSAN, lockdep, kmemleak; two guests share the tests)"
		# shellcheck disable=SC2086
		SSNAT_FLAVOR=debug SSNAT_SCALE=${SSNAT_SCALE:-quick} SSNAT_SUMMARY=$summary tests/run.sh $tests || status=1
		;;
	soak)
		echo "== make soak: every QEMU test on the debug kernel, at soak scale"
		SSNAT_FLAVOR=debug SSNAT_SCALE=soak SSNAT_SUMMARY=$summary tests/run.sh || status=1
		;;
	install)
		echo "== make install/uninstall, man pages, DKMS (host; tests/host)"
		log=$(mktemp)
		for t in tests/host/*.sh; do
			out=$(bash "$t" 2>&1)
			echo "$out"
			grep -q '^\(PASS\|FAIL\) ' <<<"$out" || echo "FAIL $(basename "$t" .sh): no result"
		done | tee "$log"
		p=$(grep -c '^PASS' "$log") f=$(grep -c '^FAIL' "$log")
		echo "install $p $f" >>"$summary"
		[ "$f" = 0 ] || status=1
		rm -f "$log"
		;;
	debian)
		echo "== Debian's own kernel: make debian, make install into the trixie tree, QEMU boot of its vmlinuz"
		SSNAT_SUMMARY=$summary tests/debian/run.sh || status=1
		;;
	*) die "unknown stage $stage" ;;
	esac
	echo "== $stage: $((SECONDS - t0)) s"
	return $status
}

for group in "$@"; do
	IFS=+ read -ra stages <<<"$group"
	if [ ${#stages[@]} = 1 ]; then
		stage "$group" || status=1
		continue
	fi
	logs=() pids=()
	for s in "${stages[@]}"; do
		logs+=("$(mktemp)")
		stage "$s" >"${logs[-1]}" 2>&1 &
		pids+=($!)
	done
	echo "== ${stages[*]}: at the same time (each printed when all are done)"
	for i in "${!stages[@]}"; do
		wait "${pids[$i]}" || status=1
		cat "${logs[$i]}"
		rm -f "${logs[$i]}"
	done
done
awk '{ p += $2; f += $3 } END { printf "%d passed, %d failed\n", p, f }' "$summary"
exit $status
