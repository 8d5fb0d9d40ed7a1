#!/usr/bin/env bash
# `make bench`: instructions per packet of the pure packet path, counted by
# valgrind's callgrind (exact and repeatable, unlike timings), for each protocol and
# mapping mode, side by side in one run; printed as a table of counts and ratios and
# written to bench/results/.
set -euo pipefail
. "$(dirname "$0")/env.sh"
cd "$ssnat_repo"
command -v valgrind >/dev/null || die "valgrind not installed (scripts/setup.sh installs it)"
cargo build -q --release -p ssnat-bench
bin=$CARGO_TARGET_DIR/release/ssnat-bench
N=${BENCH_PACKETS:-20000}
out=bench/results
mkdir -p "$out"
stamp=$(date -u +%Y%m%dT%H%M%SZ)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Instructions inside process() (inclusive) for N packets.
measure() { # SCENARIO [--full]
	local fn=process
	[ "${2:-}" = --full ] && fn=process_full_recompute
	valgrind --tool=callgrind --callgrind-out-file="$tmp/cg.out" \
		--toggle-collect="*ssnat_bench*$fn*" "$bin" "$1" "$N" ${2:-} >/dev/null 2>&1 ||
		die "callgrind failed for $1"
	awk '/^(summary|totals):/ { print $2; exit }' "$tmp/cg.out"
}

base=""
{
	printf '%-16s %12s %10s %14s %10s\n' scenario "instr/pkt" "vs udp4" "full-recompute" "incr/full"
	for s in $($bin --list); do
		ir=$(measure "$s")
		full=$(measure "$s" --full)
		per=$(awk -v a="$ir" -v n="$N" 'BEGIN { printf "%.1f", a / n }')
		perf=$(awk -v a="$full" -v n="$N" 'BEGIN { printf "%.1f", a / n }')
		[ -n "$base" ] || base=$per
		printf '%-16s %12s %10s %14s %10s\n' "$s" "$per" \
			"$(awk -v a="$per" -v b="$base" 'BEGIN { printf "%.2f", a / b }')" "$perf" \
			"$(awk -v a="$per" -v b="$perf" 'BEGIN { printf "%.2f", a / b }')"
	done
} | tee "$out/core-$stamp.txt"
cp "$out/core-$stamp.txt" "$out/core-latest.txt"
echo "($N packets per scenario, 160-byte payload; full-recompute adds a from-scratch sum over the"
echo " pseudo-header and segment to the same rewrite. Written to $out/core-$stamp.txt)"
