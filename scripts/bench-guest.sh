#!/usr/bin/env bash
# `make bench-guest` (and the second half of `make bench`): the forwarding path in a
# guest, bench/guest/forward.sh, every variant side by side. Three boots at once (each
# TCG guest runs on one host thread): main (1 vCPU: section 1, every variant), scaling
# (1 vCPU: profiles, rules, port range) and smp (2 vCPUs: two pktgen threads,
# NFQUEUE --queue-balance). QEMU runs with -icount shift=0, so guest time counts guest
# instructions: the results are instruction counts, independent of the host's load
# (and of the other guests). Tables (Markdown, CSV) and a chart go to bench/results/.
# Environment: BENCH_ROUNDS (3), BENCH_PACKETS (20000), BENCH_SIZES ("64 1400"),
# BENCH_VARIANTS (section 1's, see forward.sh), BENCH_GUESTS ("main scaling smp"),
# BENCH_RESULTS (bench/results), KDIR, SSNAT_TEST_OUT (tests/out).
set -euo pipefail
. "$(dirname "$0")/env.sh"
cd "$ssnat_repo"
kdir=${KDIR:-$(ssnat_kdir)}
out_root=${SSNAT_TEST_OUT:-$ssnat_repo/tests/out}
[ -f "$kdir/arch/x86/boot/bzImage" ] || die "no kernel at $kdir (run 'make kernel')"
[ -f xt_SSNAT.ko ] || die "xt_SSNAT.ko not built (run 'make module')"
[ -f "$CARGO_TARGET_DIR/release/libxt_SSNAT.so" ] || die "libxt_SSNAT.so not built (run 'make userspace')"
xtlibdir=$(pkg-config --variable=xtlibdir xtables)
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
stamp=$(date -u +%Y%m%dT%H%M%SZ)
results=${BENCH_RESULTS:-bench/results}

# boot NAME CPUS MODE SECTIONS: one guest running forward.sh; its results land in
# $out_root/NAME.
boot() {
	local name=$1 cpus=$2 mode=$3 sections=$4 out=$out_root/$1 attempt
	rm -rf "$out"
	mkdir -p "$out/bin"
	# The guest sees the host read-only and its /var hides the cargo build directory:
	# binaries go where it can run them, the C helpers built here.
	cp "$CARGO_TARGET_DIR/release/libxt_SSNAT.so" "$CARGO_TARGET_DIR/release/ssnatctl" "$out/bin/"
	# the module too: the work tree's may be rebuilt while the guests run
	cp "$ko" "$out/bin/xt_SSNAT.ko"
	bench/build-helpers.sh "$out/bin"
	{
		echo "REPO=$ssnat_repo"
		echo "BIN=$out/bin"
		echo "XTLIBDIR=$xtlibdir"
		echo "SSNAT_VERSION=$version"
		echo "BENCH_MODE=$mode"
		echo "BENCH_ROUNDS=${BENCH_ROUNDS:-3}"
		echo "BENCH_PACKETS=${BENCH_PACKETS:-20000}"
		echo "BENCH_SECTIONS='$sections'"
		[ -z "${BENCH_SIZES:-}" ] || echo "BENCH_SIZES='$BENCH_SIZES'"
		[ -z "${BENCH_VARIANTS:-}" ] || echo "BENCH_VARIANTS='$BENCH_VARIANTS'"
		[ -z "${BENCH_PACE_NS:-}" ] || echo "BENCH_PACE_NS=$BENCH_PACE_NS"
	} >"$out/env.sh"
	# As tests/run.sh boots (TCG, single-threaded: see there), plus -icount shift=0:
	# 1 guest ns per guest instruction. vng's exit status means nothing here; the
	# guest writes its own into $out/rc. A guest that dies before the script starts is
	# booted again, once.
	for attempt in 1 2; do
		rm -rf "$out/rc" "$out/test.log" "$out/.taken"
		timeout 1500 vng --run "$kdir" --disable-kvm --cpus "$cpus" --memory 2G --verbose \
			--qemu-opts="-accel tcg,thread=single -icount shift=0" --append "loglevel=4" \
			--rwdir "$out" --cwd / \
			--exec "$ssnat_repo/tests/lib/guest-main.sh 0 $ssnat_repo/bench/guest/forward.sh $out" \
			</dev/null >"$out/console.log" 2>&1 || true
		[ -f "$out/test.log" ] && break
		cp "$out/console.log" "$out/console-boot$attempt.log"
	done
}

# ok NAME: the boot's script passed and its kernel log is clean.
ok() {
	local out=$out_root/$1 splat
	if [ "$(cat "$out/rc" 2>/dev/null)" != 0 ]; then
		echo "bench-guest: $1 failed (see $out/test.log, $out/console.log):" >&2
		tail -n 20 "$out/test.log" >&2 2>/dev/null || true
		return 1
	fi
	splat=$(grep -hE 'WARNING:|BUG:|Oops|KASAN|general protection|Kernel panic|Call Trace' "$out/dmesg" 2>/dev/null | head -3)
	[ -z "$splat" ] || { echo "bench-guest: $1: kernel log: $splat" >&2; return 1; }
}

qemu=$(qemu-system-x86_64 --version | head -1)
ko=$(mktemp)
trap 'rm -f "$ko"' EXIT
cp xt_SSNAT.ko "$ko"
module=$(md5sum "$ko" | cut -c1-12)
rev=$(git describe --always --dirty 2>/dev/null || echo '?')
echo "bench-guest: $qemu; kernel $kdir; xt_SSNAT.ko md5 $module (tree $rev);" \
	"${BENCH_ROUNDS:-3} rounds of ${BENCH_PACKETS:-20000} packets"
start=$SECONDS
guests=${BENCH_GUESTS:-main scaling smp}
summaries=()
for g in $guests; do
	case $g in
	main) boot bench-main 1 full "main paced" & ;;
	scaling) boot bench-scaling 1 full "profiles entries rules ports" & ;;
	smp) boot bench-smp 2 smp smp & ;;
	*) die "BENCH_GUESTS: main, scaling, smp" ;;
	esac
	summaries+=("$out_root/bench-$g/summary.csv")
done
wait
echo "bench-guest: guests done in $((SECONDS - start)) s"
status=0
for g in $guests; do ok "bench-$g" || status=1; done
[ $status = 0 ] || exit 1

meta=$out_root/bench-${guests%% *}/meta.txt
kernel=$(sed -n 's/^kernel //p' "$meta")
/usr/bin/python3 bench/forward_report.py report --out "$results" --stamp "$stamp" \
	--pace-us $((${BENCH_PACE_NS:-200000} / 1000)) \
	--info "QEMU: $qemu, TCG single-threaded, \`-icount shift=0\`; guests ($guests): 1 vCPU (section 1; profiles, rules, ports) and 2 vCPUs (smp), 2 GiB" \
	--info "guest kernel: $kernel" \
	--info "xt_SSNAT.ko md5 $module… (tree $rev), $(sed -n 's/^module //p' "$meta")" \
	--info "${BENCH_ROUNDS:-3} rounds, variants alternating, ${BENCH_PACKETS:-20000} packets per measurement; receiver drop: tc matchall $(sed -n 's/^sink //p' "$meta")" \
	--info "date $(date -u +%F), host $(nproc) cores; the guests took $((SECONDS - start)) s (wall)" \
	"${summaries[@]}"
