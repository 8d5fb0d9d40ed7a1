#!/usr/bin/env bash
# `make demo`: the Music-On-Hold scenario with real SIP and RTP, in a guest of the
# custom kernel (tests/qemu/40-moh.sh, which runs demo/moh.sh without SSNAT and then
# with it and `ssnatctl follow`), then a short account of both runs
# (demo/account.py). Pcaps, logs and the PNG timeline go to demo/out/.
# `make demo-udp` (SSNAT_DEMO=udp): the older demo of hand-made UDP packets
# (tests/demo-guest.sh).
set -uo pipefail
. "$(dirname "$0")/env.sh"
if [ "${SSNAT_DEMO:-moh}" = udp ]; then
	"$ssnat_repo/tests/run.sh" --script "$ssnat_repo/tests/demo-guest.sh" demo-udp >/dev/null
	rc=$?
	cat "$ssnat_repo/tests/out/demo-udp/test.log"
	[ $rc = 0 ] || echo "demo failed; guest console: tests/out/demo-udp/console.log" >&2
	exit $rc
fi
echo "make demo: booting the kernel in QEMU and placing 9 calls through the router twice (a few minutes under TCG)"
# (SSNAT_SCALE=soak: 40-moh's whole scenario, three waves of three calls; make check
# runs one)
SSNAT_SCALE=soak "$ssnat_repo/tests/run.sh" --script "$ssnat_repo/tests/qemu/40-moh.sh" demo >/dev/null
rc=$?
res=$ssnat_repo/tests/out/demo
out=$ssnat_repo/demo/out
rm -rf "$out"
mkdir -p "$out"
for mode in problem fix; do
	[ ! -d "$res/moh-$mode" ] || cp -r "$res/moh-$mode" "$out/$mode"
done
if [ -f "$out/fix/check.json" ] && [ -f "$out/problem/check.json" ]; then
	/usr/bin/python3 "$ssnat_repo/demo/account.py" "$out/problem" "$out/fix"
	echo
	echo "files: demo/out/fix/provider.pcap (provider side, with SSNAT), demo/out/problem/provider.pcap,"
	echo "       demo/out/fix/timeline.png (packets per second per call by source, hold marked),"
	echo "       demo/out/*/check.txt (every call in full), demo/out/fix/follow.log"
fi
if [ $rc != 0 ]; then
	grep -E "^(FAIL|PASS)" "$res/test.log" >&2
	echo "demo failed; test log: tests/out/demo/test.log, guest console: tests/out/demo/console.log" >&2
fi
exit $rc
