#!/bin/bash
# Guest entry point: takes tests from the queue that tests/run.sh gives every guest and
# runs them in turn, recording each one's status, time and kernel log in its own
# directory.
# Usage: guest-main.sh GUEST_ID TEST_SCRIPT OUTDIR [TEST_SCRIPT OUTDIR]...
#        guest-main.sh GUEST_ID --queue FILE   (FILE: a line "TEST_SCRIPT OUTDIR" per test;
#                                              a kernel command line holds only a few)
#
# A test is this guest's if it can make OUTDIR/.taken (mkdir on the host's file system:
# one guest succeeds); the guest's id goes to OUTDIR/guest. Each test is followed by a
# clean-up (its processes killed, namespaces deleted, the initial namespace's rules
# flushed, the module unloaded), so that the next one finds the guest as booted: a
# module that cannot be unloaded any more is written to OUTDIR/cleanup and fails the
# test (tests/run.sh). On a kernel with kmemleak (the debug kernel) a kmemleak scan
# follows: what it reports is written to OUTDIR/kmemleak and fails the test too.
guest=$1
shift
if [ "${1:-}" = --queue ]; then
	# shellcheck disable=SC2046 # (paths without blanks: tests/run.sh)
	set -- $(cat "$2")
fi
dmesg -n 1 2>/dev/null || true
# The boot's own kernel log, before any test, goes to the first test this guest takes:
# tests/run.sh shows reports found there (they precede every test, so they are not any
# test's failure).
bootlog=$(mktemp)
dmesg >"$bootlog" 2>&1
KMEMLEAK=/sys/kernel/debug/kmemleak
mountpoint -q /sys/kernel/debug || mount -t debugfs none /sys/kernel/debug 2>/dev/null || true
leakcheck=0
if [ -w "$KMEMLEAK" ]; then
	leakcheck=1
	# What boot left behind is not ours to report.
	echo scan >"$KMEMLEAK"
	echo clear >"$KMEMLEAK"
fi

# cleanup OUTDIR: back to a guest without our state, so that what is left is a leak.
cleanup() {
	local out=$1 i
	ip -all netns delete 2>/dev/null
	for t in raw mangle filter nat; do
		iptables-legacy -t $t -F 2>/dev/null
		iptables-legacy -t $t -X 2>/dev/null
		ip6tables-legacy -t $t -F 2>/dev/null
		ip6tables-legacy -t $t -X 2>/dev/null
	done
	nft flush ruleset 2>/dev/null
	# Namespaces are torn down asynchronously (cleanup_net): their rules go then.
	for i in $(seq 40); do
		grep -q '^xt_SSNAT ' /proc/modules || return 0
		rmmod xt_SSNAT 2>/dev/null && return 0
		sleep 0.5
	done
	echo "xt_SSNAT cannot be unloaded (refcount $(cat /sys/module/xt_SSNAT/refcnt 2>/dev/null)) with no rule and no namespace left" >"$out/cleanup"
}

while [ $# -ge 2 ]; do
	test=$1 out=$2
	shift 2
	mkdir "$out/.taken" 2>/dev/null || continue
	echo "$guest" >"$out/guest"
	[ ! -f "$bootlog" ] || mv "$bootlog" "$out/boot-dmesg"
	export SSNAT_OUT=$out
	dmesg -C 2>/dev/null || true
	start=$(date +%s)
	# In a session of its own (setsid: not a group leader here, so it does not fork and
	# the session's id is the pid), so that whatever the test leaves running can go.
	setsid bash -c 'cd / && exec bash "$0"' "$test" >"$out/test.log" 2>&1 </dev/null &
	sid=$!
	wait $sid
	echo $? >"$out/rc"
	echo $(($(date +%s) - start)) >"$out/secs"
	pkill -9 -s $sid 2>/dev/null
	sleep 0.2
	cleanup "$out"
	if [ $leakcheck = 1 ]; then
		# kmemleak reports objects at least 5 s old, unreferenced in a scan.
		sleep 5
		echo scan >"$KMEMLEAK"
		echo scan >"$KMEMLEAK"
		cat "$KMEMLEAK" >"$out/kmemleak"
		echo clear >"$KMEMLEAK"
	fi
	dmesg >"$out/dmesg" 2>&1
	sync
done
poweroff -f 2>/dev/null
