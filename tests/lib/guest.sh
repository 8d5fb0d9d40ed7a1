# Sourced by each QEMU test (tests/qemu/*.sh), inside the guest.
# The host's root file system is visible read-only, the repository at the same path,
# and $SSNAT_OUT is the read/write directory shared with the host.
set -euo pipefail
. "$SSNAT_OUT/env.sh" # REPO, XTLIBDIR, written by tests/run.sh
export XTABLES_LIBDIR="$REPO/target/release:$XTLIBDIR"
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
PY=/usr/bin/python3
PKT="$PY $REPO/tests/lib/pkt.py"
KO="$REPO/xt_SSNAT.ko"
W=$(mktemp -d)

fail() {
	echo "FAIL: $*"
	exit 1
}
note() { echo "# $*"; }

load_module() {
	insmod "$KO" || fail "insmod $KO"
	grep -qx SSNAT /proc/net/ip_tables_targets || fail "SSNAT not in /proc/net/ip_tables_targets"
}

# expect_fail DESCRIPTION CMD...: CMD must fail; its output is kept in $W/out.
expect_fail() {
	local what=$1
	shift
	if "$@" >"$W/out" 2>&1; then
		fail "$what: '$*' succeeded"
	fi
}

# sender (10.0.1.2) -- r0 [router] r1 -- receiver (10.0.2.2)
setup_topology() {
	local ns
	for ns in snd rtr rcv; do
		ip netns add $ns
		ip -n $ns link set lo up
	done
	ip link add s0 netns snd type veth peer name r0 netns rtr
	ip link add r1 netns rtr type veth peer name d0 netns rcv
	ip -n snd addr add 10.0.1.2/24 dev s0
	ip -n rtr addr add 10.0.1.1/24 dev r0
	ip -n rtr addr add 10.0.2.1/24 dev r1
	ip -n rcv addr add 10.0.2.2/24 dev d0
	ip -n snd link set s0 up
	ip -n rtr link set r0 up
	ip -n rtr link set r1 up
	ip -n rcv link set d0 up
	ip -n snd route add default via 10.0.1.1
	ip -n rcv route add default via 10.0.2.1
	ip netns exec rtr sysctl -qw net.ipv4.ip_forward=1 net.ipv4.conf.all.rp_filter=0 \
		net.ipv4.conf.r0.rp_filter=0 net.ipv4.conf.default.rp_filter=0
	# Conntrack is active in the router (a conntrack rule needs it), so an empty
	# table at the end shows that SSNAT traffic was never tracked.
	ip netns exec rtr iptables-legacy -A FORWARD -m conntrack --ctstate INVALID -j DROP
	# Resolve neighbours first, so that no packet of a test waits for ARP.
	ip netns exec snd ping -c1 -W5 10.0.1.1 >/dev/null || fail "sender cannot reach router"
	ip netns exec rcv ping -c1 -W5 10.0.2.1 >/dev/null || fail "receiver cannot reach router"
}

# capture_start NS IFACE COUNT NAME: capture COUNT UDP packets into $W/NAME.pcap.
capture_start() {
	local ns=$1 iface=$2 count=$3 name=$4
	rm -f "$W/$name.ready"
	ip netns exec "$ns" $PKT capture --iface "$iface" --count "$count" --timeout 60 \
		--out "$W/$name.pcap" --ready "$W/$name.ready" >"$W/$name.log" 2>&1 &
	echo $! >"$W/$name.pid"
	local i
	for i in $(seq 600); do
		[ -f "$W/$name.ready" ] && return 0
		sleep 0.1
	done
	fail "capture on $ns/$iface did not start"
}

capture_wait() {
	local name=$1
	wait "$(cat "$W/$name.pid")" || fail "capture $name failed: $(cat "$W/$name.log")"
	cat "$W/$name.log"
}

conntrack_count() {
	ip netns exec "$1" cat /proc/net/nf_conntrack | wc -l
}
