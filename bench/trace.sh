#!/usr/bin/env bash
# `make trace`: where the packet path's instructions go, one by one. Boots the release
# kernel under QEMU (TCG) with its gdbstub, adds `-j SSNAT OPTIONS` after notrack in a
# router namespace's raw PREROUTING, and single-steps the target function (the glue's
# ssnat_tg4, everything it calls included) for one forwarded UDP datagram. Prints the
# instructions per function and in the order they ran; bench/results/trace-latest.md
# keeps the table, $SSNAT_TEST_OUT/trace/listing.txt every instruction. It explains
# the figures of `make bench` (which count whole paths side by side) function by
# function.
# Usage: bench/trace.sh [SSNAT OPTIONS]   (default: --to-source 198.51.100.7:4000)
set -euo pipefail
. "$(dirname "$0")/../scripts/env.sh"
cd "$ssnat_repo"
kdir=${KDIR:-$(ssnat_kdir release)}
[ -f xt_SSNAT.ko ] || die "xt_SSNAT.ko not built (run 'make module')"
[ -f "$CARGO_TARGET_DIR/release/libxt_SSNAT.so" ] || die "libxt_SSNAT.so not built (run 'make userspace')"
command -v gdb >/dev/null || die "gdb not installed (scripts/setup.sh installs it)"
[ $# -gt 0 ] || set -- --to-source 198.51.100.7:4000
out=${SSNAT_TEST_OUT:-$ssnat_repo/tests/out}/trace
rm -rf "$out"
mkdir -p "$out/bin"
cp xt_SSNAT.ko "$CARGO_TARGET_DIR/release/libxt_SSNAT.so" "$out/bin/"
off=$(nm "$out/bin/xt_SSNAT.ko" | awk '$3 == "ssnat_tg4" { print $1 }')
[ -n "$off" ] || die "no ssnat_tg4 in xt_SSNAT.ko"
# A port of our own for the gdbstub: other guests may run.
port=$((20000 + $$ % 10000))
timeout 900 vng --run "$kdir" --disable-kvm --cpus 1 --memory 1G \
	--qemu-opts="-accel tcg,thread=single -gdb tcp:127.0.0.1:$port" --rwdir "$out" --cwd / \
	--exec "bash $ssnat_repo/bench/trace/guest.sh $out $out/bin/xt_SSNAT.ko $out/bin SSNAT $*" \
	</dev/null >"$out/console.log" 2>&1 &
vm=$!
OUT=$out FN_OFF=$off GDB_PORT=$port timeout 600 gdb -batch -nx -x bench/trace/gdb-step.py >"$out/gdb.log" 2>&1 ||
	{ kill $vm 2>/dev/null; die "gdb failed (see $out/gdb.log, $out/guest.log)"; }
wait $vm || true
[ -s "$out/pcs" ] || die "no trace (see $out/gdb.log, $out/guest.log)"
grep -q "SSNAT" "$out/guest.log" || die "the rule did not go in (see $out/guest.log)"
report=$(/usr/bin/python3 bench/trace/symbolize.py "$out" "$out/bin/xt_SSNAT.ko")
echo "$report"
mkdir -p bench/results
{
	echo "# One forwarded IPv4/UDP datagram through \`-j SSNAT $*\`, instruction by instruction"
	echo
	echo "$(date -u +%F), $(git describe --always --dirty 2>/dev/null), kernel $(basename "$kdir"), QEMU TCG gdbstub single-step (bench/trace.sh); the datagram comes from a socket in another namespace (unshared skb, UDP checksum in the bytes)."
	echo
	echo "$report"
} >bench/results/trace-latest.md
echo "(bench/results/trace-latest.md; every instruction in $out/listing.txt)"
