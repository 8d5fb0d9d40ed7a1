#!/usr/bin/env bash
# `make bench`, host part: instructions per packet of the pure packet path, counted by
# valgrind's callgrind (exact and repeatable, unlike timings), for each protocol and
# mapping mode, side by side in one run, with the C floor (bench/c/floor.c: the same
# IPv4/UDP rewrite written as netfilter's C code writes it, gcc -O2) as the first row.
# The bench is built with the bench-core profile: one codegen unit, opt-level 2, as
# the kernel builds the module. Printed as a table and written to bench/results/ as
# Markdown and CSV. Then the in-guest forwarding benchmark (scripts/bench-guest.sh),
# unless BENCH_HOST_ONLY=1.
set -euo pipefail
. "$(dirname "$0")/env.sh"
cd "$ssnat_repo"
command -v valgrind >/dev/null || die "valgrind not installed (scripts/setup.sh installs it)"
cargo build -q --profile bench-core -p ssnat-bench
bin=$CARGO_TARGET_DIR/bench-core/ssnat-bench
N=${BENCH_PACKETS_HOST:-20000}
out=bench/results
mkdir -p "$out"
stamp=$(date -u +%Y%m%dT%H%M%SZ)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Instructions inside the measured function (inclusive) for N packets.
measure() { # SCENARIO [--full]
	local fn=process
	case $1 in c-*) fn=process_c ;; *-fast) fn=process_fast ;; esac
	[ "${2:-}" = --full ] && fn=process_full_recompute
	valgrind --tool=callgrind --callgrind-out-file="$tmp/cg.out" \
		--toggle-collect="*ssnat_bench*$fn*" "$bin" "$1" "$N" ${2:-} >/dev/null 2>&1 ||
		die "callgrind failed for $1"
	awk -v n="$N" '/^(summary|totals):/ { printf "%.1f", $2 / n; exit }' "$tmp/cg.out"
}

csv=$out/core-$stamp.csv
md=$out/core-$stamp.md
echo "scenario,instr_per_pkt,vs_c_floor,full_recompute,incr_vs_full" >"$csv"
floor=""
for s in $($bin --list); do
	per=$(measure "$s")
	[ -n "$floor" ] || floor=$per
	full=-
	case $s in c-*) ;; *) full=$(measure "$s" --full) ;; esac
	ratio=$(awk -v a="$per" -v b="$floor" 'BEGIN { printf "%.2f", a / b }')
	incr=-
	[ "$full" = - ] || incr=$(awk -v a="$per" -v b="$full" 'BEGIN { printf "%.2f", a / b }')
	echo "$s,$per,$ratio,$full,$incr" >>"$csv"
done
{
	echo "Pure packet path, instructions per packet (callgrind, host, $(rustc --version | cut -d' ' -f1-2), $N packets per scenario, 160-byte payload, $(date -u +%Y-%m-%d))"
	echo
	echo "| scenario | instr/pkt | vs C floor | full recompute | incremental/full |"
	echo "| --- | ---: | ---: | ---: | ---: |"
	tail -n +2 "$csv" | awk -F, '{ printf "| %s | %s | %s | %s | %s |\n", $1, $2, $3, $4, $5 }'
	echo
	echo "c-udp4-fixed is the C floor (bench/c/floor.c, gcc -O2). \"full recompute\" adds a"
	echo "from-scratch sum over the pseudo-header and segment to the same rewrite. The -fast"
	echo "scenarios go through packet::rewrite_fast alone, the kernel's fast path; the others"
	echo "through packet::rewrite."
} >"$md"
column -s, -t <"$csv"
cp "$csv" "$out/core-latest.csv"
cp "$md" "$out/core-latest.md"
rm -f "$out/core-latest.txt"
echo "(written to $md and $csv)"

if [ "${BENCH_HOST_ONLY:-0}" != 1 ] && [ -x scripts/bench-guest.sh ]; then
	scripts/bench-guest.sh
fi
