# Sourced by each QEMU test (tests/qemu/*.sh), inside the guest.
# The host's root file system is visible read-only, the repository at the same path,
# and $SSNAT_OUT is the read/write directory shared with the host.
set -euo pipefail
. "$SSNAT_OUT/env.sh" # REPO, BIN, XTLIBDIR, SSNAT_VERSION, written by tests/run.sh
export XTABLES_LIBDIR="$BIN:$XTLIBDIR"
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
PY=/usr/bin/python3
SSNAT_PKT_SCRIPT=$REPO/tests/lib/ssnat_pkt.py
PKT="$PY $SSNAT_PKT_SCRIPT"
# One Python for the guest's packet tool, not one per command (under TCG a start costs
# seconds): the first test of a boot starts `ssnat_pkt.py serve` in a session of its
# own (so it outlives the test), and $PKT becomes its client (tests/lib/ssnat-pkt.c,
# built on the host), which runs the script itself until the server listens.
# SSNAT_PKT_SERVER=0 (the benchmark: nothing else may run on its vCPUs) keeps the script.
if [ -x "${BIN:-}/ssnat-pkt" ] && [ "${SSNAT_PKT_SERVER:-1}" = 1 ]; then
	export SSNAT_PKT_SOCK=/tmp/ssnat-pkt.sock SSNAT_PKT_SCRIPT
	if mkdir /tmp/ssnat-pkt.started 2>/dev/null; then
		setsid $PY "$SSNAT_PKT_SCRIPT" serve --socket "$SSNAT_PKT_SOCK" </dev/null >/tmp/ssnat-pkt.log 2>&1 &
	fi
	PKT=$BIN/ssnat-pkt
fi
KO=${SSNAT_KO:-$REPO/xt_SSNAT.ko} # (env.sh: the module of the kernel flavor)
W=$(mktemp -d)
IPT=${IPT:-iptables-legacy}
IP6T=${IP6T:-ip6tables-legacy}

# Addresses of the topology.
SND4=10.0.1.2 RTR4A=10.0.1.1 RTR4B=10.0.2.1 RCV4=10.0.2.2
SND6=2001:db8:1::2 RTR6A=2001:db8:1::1 RTR6B=2001:db8:2::1 RCV6=2001:db8:2::2
RTR_MAC=02:55:00:00:01:01

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

# expect_code CODE DESCRIPTION CMD...: CMD fails with exit status CODE; its output is
# shown and kept in $W/out.
expect_code() {
	local code=$1 what=$2 rc=0
	shift 2
	"$@" >"$W/out" 2>&1 || rc=$?
	cat "$W/out"
	[ $rc = "$code" ] || fail "$what: exit status $rc, expected $code: $(cat "$W/out")"
}

# setup_topology [noct]
# sender s0 -- r0 [router] r1 -- d0 receiver, IPv4 and IPv6. Unless "noct", conntrack
# is active in the router (a conntrack rule needs it), so an empty table at the end
# shows that SSNAT traffic was never tracked; "noct" leaves conntrack and defrag off,
# so that fragments reach the rules as fragments.
setup_topology() {
	local ns
	for ns in snd rtr rcv; do
		ip netns add $ns
		ip -n $ns link set lo up
	done
	ip link add s0 netns snd address 02:55:00:00:00:02 type veth peer name r0 netns rtr address $RTR_MAC
	ip link add r1 netns rtr address 02:55:00:00:02:01 type veth peer name d0 netns rcv address 02:55:00:00:02:02
	ip netns exec rtr sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1 \
		net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0
	ip -n snd addr add $SND4/24 dev s0
	ip -n rtr addr add $RTR4A/24 dev r0
	ip -n rtr addr add $RTR4B/24 dev r1
	ip -n rcv addr add $RCV4/24 dev d0
	ip -n snd addr add $SND6/64 dev s0 nodad
	ip -n rtr addr add $RTR6A/64 dev r0 nodad
	ip -n rtr addr add $RTR6B/64 dev r1 nodad
	ip -n rcv addr add $RCV6/64 dev d0 nodad
	ip -n snd link set s0 up
	ip -n rtr link set r0 up
	ip -n rtr link set r1 up
	ip -n rcv link set d0 up
	ip netns exec rtr sysctl -qw net.ipv4.conf.r0.rp_filter=0 net.ipv4.conf.r1.rp_filter=0
	ip -n snd route add default via $RTR4A
	ip -n rcv route add default via $RTR4B
	ip -n snd -6 route add default via $RTR6A
	ip -n rcv -6 route add default via $RTR6B
	if [ "${1:-}" != noct ]; then
		# (nft itself, so that neither iptables backend warns about the other's tables)
		ip netns exec rtr nft -f - <<-NFT
			table inet conntrack_on {
				chain forward { type filter hook forward priority 0; ct state invalid drop; }
			}
		NFT
	fi
	# Resolve neighbours first, so that no packet of a test waits for ARP or ND.
	ip netns exec snd ping -c1 -W5 $RTR4A >/dev/null || fail "sender cannot reach router"
	ip netns exec rcv ping -c1 -W5 $RTR4B >/dev/null || fail "receiver cannot reach router"
	ip netns exec snd ping -6 -c1 -W5 $RTR6A >/dev/null || fail "sender cannot reach router (IPv6)"
	ip netns exec rcv ping -6 -c1 -W5 $RTR6B >/dev/null || fail "receiver cannot reach router (IPv6)"
}

# rcv_sink: the receiver only captures. Its capture (a tap, before netfilter) sees every
# packet; its own stack does not (no RST, ABORT or unreachable of its own).
rcv_sink() {
	ip netns exec rcv nft -f - <<-NFT
		table inet sink {
			chain pre { type filter hook prerouting priority -400; meta l4proto { tcp, udplite, dccp, sctp, gre } drop; }
		}
	NFT
}

# rtr_ipt 4|6 ARGS...: iptables or ip6tables (backend $IPT) in the router.
rtr_ipt() {
	local fam=$1
	shift
	if [ "$fam" = 4 ]; then
		ip netns exec rtr $IPT "$@"
	else
		ip netns exec rtr $IP6T "$@"
	fi
}

# send ARGS...: frames from the sender to the router (see ssnat_pkt.py send).
send() {
	ip netns exec snd $PKT send --iface s0 --dst-mac $RTR_MAC "$@"
}

# capture_start NS IFACE COUNT NAME [PROTO [EXTRA...]]: capture COUNT packets into $W/NAME.
capture_start() {
	local ns=$1 iface=$2 count=$3 name=$4 proto=${5:-}
	shift 5 2>/dev/null || shift $#
	rm -f "$W/$name.ready"
	ip netns exec "$ns" $PKT capture --iface "$iface" --count "$count" --timeout 90 \
		--out "$W/$name.cap" --ready "$W/$name.ready" ${proto:+--proto $proto} "$@" >"$W/$name.log" 2>&1 &
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

# check NAME ARGS...: check the capture NAME (see ssnat_pkt.py check).
check() {
	local name=$1
	shift
	$PKT check --cap "$W/$name.cap" "$@" || fail "packets captured as $name"
}

# conntrack_count NS: entries of the namespace's conntrack table, but for the ICMP
# echo of setup_topology's neighbour warm-up.
conntrack_count() {
	ip netns exec "$1" cat /proc/net/nf_conntrack | grep -v -c -E ' icmp(v6)? ' || true
}

# counter NS COLUMN [RULE]: a counter of /proc/net/xt_SSNAT (sum over rules, or one rule).
counter() {
	ip netns exec "$1" awk -v col="$2" -v rule="${3:-}" '
		NR == 1 { for (i = 1; i <= NF; i++) if ($i == col) c = i; next }
		rule == "" || $1 == rule { s += $c }
		END { print s + 0 }' /proc/net/xt_SSNAT
}
