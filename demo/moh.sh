#!/bin/bash
# demo/moh.sh MODE OUTDIR: the Music-On-Hold scenario, as root, in three network namespaces.
#
#   pbx (10.0.0.10) -- [priv0 router pub0] -- provider (198.51.100.1, 203.0.113.5)
#
# The PBX's SIPp UAC calls the provider's SIPp UAS through the router's conntrack SNAT,
# in waves of calls that are all on hold at the same time; demo/rtp.py, driven by the
# UAC's progress, sends each call's RTP from 10.0.0.10:P while talking and its MOH from
# 10.0.0.10:4000 while on hold. The provider side is captured to OUTDIR/provider.pcap,
# rtp.py writes OUTDIR/events.json; demo/provider_check.py and demo/timeline.py read them.
#   MODE problem: MOH goes through conntrack SNAT, so it reaches the provider from
#                 198.51.100.7:4000, not from the negotiated 198.51.100.7:P.
#   MODE fix:     MOH is NOTRACK and rewritten by -j SSNAT --profile moh, whose entries
#                 `ssnatctl follow` keeps in step with the SIP it reads from NFLOG group 5.
# Environment: IPT (default iptables-legacy; iptables-nft works too), SSNATCTL (default
# ssnatctl; fix mode only), MOH_NS (namespace name prefix, default moh-), MOH_TIMEOUT
# (seconds the calls may take at most, default 300).
set -euo pipefail

usage() {
	echo "usage: $0 problem|fix OUTDIR" >&2
	exit 2
}
[ $# = 2 ] || usage
MODE=$1 OUT=$2
case $MODE in problem | fix) ;; *) usage ;; esac

DEMO=$(cd "$(dirname "$0")" && pwd)
IPT=${IPT:-iptables-legacy}
SSNATCTL=${SSNATCTL:-ssnatctl}
PY=/usr/bin/python3 # Debian's: python3-scapy and python3-matplotlib are its modules
NS=${MOH_NS:-moh-}
PBX=${NS}pbx RTR=${NS}rtr PROV=${NS}prov
TIMEOUT=${MOH_TIMEOUT:-300}

# Addresses and ports.
PBX4=10.0.0.10 RTR_PRIV4=10.0.0.1 RTR_PUB4=198.51.100.7 PROV_LINK4=198.51.100.1
PROV4=203.0.113.5 SIP_PORT=5060 MOH_PORT=4000 NFLOG_GROUP=5
# The schedule: WAVES (MOH_WAVES, default 3) waves of PER_WAVE calls; a wave's calls
# start STAGGER_MS apart, talk TALK1_MS, are on hold HOLD_MS (all of a wave's calls at
# the same time), talk TALK2_MS and hang up; the next wave starts WAVE_MS after the previous one.
# Call n negotiates PBX media port 10000+2n and provider media port 30998+2n.
WAVES=${MOH_WAVES:-3} PER_WAVE=3 STAGGER_MS=500 TALK1_MS=3000 HOLD_MS=6000 TALK2_MS=2000 WAVE_MS=12500
CALLS=$((WAVES * PER_WAVE))

fail() {
	echo "FAIL: $*" >&2
	exit 1
}
note() { echo "== $*"; }

[ "$(id -u)" = 0 ] || fail "moh.sh needs root (network namespaces, iptables)"
for cmd in ip "$IPT" sipp tcpdump ethtool ss $PY; do
	command -v "$cmd" >/dev/null || fail "$cmd not found (see demo/README.md for the packages)"
done
if [ "$MODE" = fix ]; then
	command -v "$SSNATCTL" >/dev/null || fail "ssnatctl not found: set SSNATCTL to its path"
fi
for ns in $PBX $RTR $PROV; do
	[ ! -e "/run/netns/$ns" ] || fail "network namespace $ns exists already (another run?)"
done
case $OUT in *[[:space:]]*) fail "OUTDIR must not contain white space: $OUT" ;; esac
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
rm -f "$OUT"/{provider.pcap,events.json,sip-events.log,follow.log,uac.csv,uas.csv,timeline.png} \
	"$OUT"/{tcpdump,rtp,uac,uas}.log "$OUT"/{uac,uas}-{messages,errors,screen}.log

PIDS=()
cleanup() {
	local rc=$? pid ns
	trap - EXIT INT TERM
	for pid in "${PIDS[@]}"; do
		kill "$pid" 2>/dev/null || true
	done
	for pid in "${PIDS[@]}"; do
		wait "$pid" 2>/dev/null || true
	done
	for ns in $PBX $RTR $PROV; do
		if [ -e "/run/netns/$ns" ]; then
			# what the processes above left (SIPp's <exec> shells): ours, by pid
			for pid in $(ip netns pids "$ns"); do
				kill "$pid" 2>/dev/null || true
			done
			ip netns del "$ns"
		fi
	done
	exit $rc
}
trap cleanup EXIT
trap 'echo "moh.sh: interrupted" >&2; exit 130' INT TERM

# spawn NS LOG CMD...: runs CMD in namespace NS in the background, output to LOG; sets $SPAWNED.
spawn() {
	local ns=$1 log=$2
	shift 2
	ip netns exec "$ns" "$@" >"$log" 2>&1 &
	SPAWNED=$!
	PIDS+=("$SPAWNED")
}

# wait_for SECONDS WHAT CMD...: polls CMD every 0.1 s until it succeeds.
wait_for() {
	local deadline=$((SECONDS + $1)) what=$2
	shift 2
	until "$@" >/dev/null 2>&1; do
		[ $SECONDS -lt $deadline ] || fail "timed out waiting for $what"
		sleep 0.1
	done
}

# finish PID SECONDS WHAT: waits for PID to exit by itself; fails unless it exits 0.
finish() {
	local pid=$1 deadline=$((SECONDS + $2)) what=$3 rc=0
	while kill -0 "$pid" 2>/dev/null; do
		[ $SECONDS -lt $deadline ] || fail "$what still running after $2 s"
		sleep 0.2
	done
	wait "$pid" || rc=$?
	[ $rc = 0 ] || fail "$what exited with status $rc"
}

note "topology: pbx $PBX4 -- [$RTR_PRIV4 router $RTR_PUB4] -- provider $PROV_LINK4, $PROV4"
for ns in $PBX $RTR $PROV; do
	ip netns add "$ns"
	ip -n "$ns" link set lo up
done
ip link add pbx0 netns $PBX type veth peer name priv0 netns $RTR
ip link add pub0 netns $RTR type veth peer name prov0 netns $PROV
ip -n $PBX addr add $PBX4/24 dev pbx0
ip -n $RTR addr add $RTR_PRIV4/24 dev priv0
ip -n $RTR addr add $RTR_PUB4/24 dev pub0
ip -n $PROV addr add $PROV_LINK4/24 dev prov0
ip -n $PROV addr add $PROV4/32 dev prov0
ip -n $PBX link set pbx0 up
ip -n $RTR link set priv0 up
ip -n $RTR link set pub0 up
ip -n $PROV link set prov0 up
ip -n $PBX route add default via $RTR_PRIV4
ip -n $RTR route add $PROV4/32 via $PROV_LINK4
ip netns exec $RTR sysctl -qw net.ipv4.ip_forward=1 net.ipv4.conf.all.rp_filter=0 \
	net.ipv4.conf.default.rp_filter=0 net.ipv4.conf.priv0.rp_filter=0 net.ipv4.conf.pub0.rp_filter=0
# Complete UDP checksums from the PBX (not veth's offloaded partial ones), so that the
# provider's capture shows whether the router left each one right; the provider's own
# (its SIP answers) complete too, so that every checksum in the capture is a real one.
ip netns exec $PBX ethtool -K pbx0 tx off >/dev/null
ip netns exec $PROV ethtool -K prov0 tx off >/dev/null
# The SBC's media ports: each packet is captured, then dropped (no ICMP back).
ip netns exec $PROV $IPT -A INPUT -p udp --dport 31000:31999 -j DROP

note "router: conntrack SNAT to $RTR_PUB4 on pub0, SIP copied to NFLOG group $NFLOG_GROUP ($IPT)"
ip netns exec $RTR $IPT -t nat -A POSTROUTING -o pub0 -j SNAT --to-source $RTR_PUB4
# one rule for both directions: SIP between two 5060s would match a --dport and a
# --sport rule alike and reach the follower twice
ip netns exec $RTR $IPT -A FORWARD -p udp -m multiport --ports $SIP_PORT -j NFLOG --nflog-group $NFLOG_GROUP
if [ "$MODE" = fix ]; then
	note "router: MOH from $PBX4:$MOH_PORT untracked, source rewritten by SSNAT profile moh"
	CTL="ip netns exec $RTR $SSNATCTL"
	$CTL profile add moh
	# Untracked from the start (raw PREROUTING), rewritten on the way out (mangle
	# POSTROUTING, after routing: in PREROUTING the router's own address as source
	# would make the packet a martian, dropped unless priv0 had accept_local).
	ip netns exec $RTR $IPT -t raw -A PREROUTING -i priv0 -s $PBX4 -p udp --sport $MOH_PORT -j CT --notrack
	ip netns exec $RTR $IPT -t mangle -A POSTROUTING -o pub0 -s $PBX4 -p udp --sport $MOH_PORT -j SSNAT --profile moh
	note "router: ssnatctl follow --nflog-group $NFLOG_GROUP --profile moh --inside 10.0.0.0/24"
	spawn $RTR "$OUT/follow.log" $SSNATCTL follow --nflog-group $NFLOG_GROUP --profile moh --inside 10.0.0.0/24
	FOLLOW=$SPAWNED
	# bound: its NFLOG group is listed in the router's /proc/net/netfilter/nfnetlink_log
	wait_for 60 "ssnatctl follow to bind NFLOG group $NFLOG_GROUP (see $OUT/follow.log)" \
		ip netns exec $RTR awk -v g=$NFLOG_GROUP '$1 == g { found = 1 } END { exit !found }' \
		/proc/net/netfilter/nfnetlink_log
fi
ip netns exec $RTR $IPT-save | grep -- '^-A' | sed 's/^/  /'

note "schedule: $WAVES waves of $PER_WAVE calls, each: talk ${TALK1_MS} ms, hold ${HOLD_MS} ms, talk ${TALK2_MS} ms"
printf 'SEQUENTIAL\n' >"$OUT/uac.csv"
printf 'SEQUENTIAL\n' >"$OUT/uas.csv"
for ((n = 1; n <= CALLS; n++)); do
	wave=$(((n - 1) / PER_WAVE)) k=$(((n - 1) % PER_WAVE))
	echo "$n;$((10000 + 2 * n));$((wave * WAVE_MS + k * STAGGER_MS));$TALK1_MS;$HOLD_MS;$TALK2_MS" >>"$OUT/uac.csv"
	echo "$n;$((30998 + 2 * n))" >>"$OUT/uas.csv"
done
sed 1d "$OUT/uac.csv" | while IFS=';' read -r n p wait _; do
	echo "  call $n: PBX media $RTR_PUB4:$p (private $PBX4:$p), provider media $PROV4:$(sed -n "$((n + 1))s/.*;//p" "$OUT/uas.csv"), INVITE at +$wait ms"
done

note "provider: capturing UDP on prov0 to $OUT/provider.pcap"
spawn $PROV "$OUT/tcpdump.log" tcpdump -i prov0 -n -U -Z root -w "$OUT/provider.pcap" udp
TCPDUMP=$SPAWNED
wait_for 60 "tcpdump to listen (see $OUT/tcpdump.log)" grep -q "listening on" "$OUT/tcpdump.log"
CAPTURE_START=$(date +%s.%N)

note "pbx: rtp.py follows the UAC's call progress (MOH source $PBX4:$MOH_PORT)"
: >"$OUT/sip-events.log"
spawn $PBX "$OUT/rtp.log" $PY "$DEMO/rtp.py" --control "$OUT/sip-events.log" --calls $CALLS \
	--local $PBX4 --public $RTR_PUB4 --moh-port $MOH_PORT --capture-start "$CAPTURE_START" \
	--mode "$MODE" --events "$OUT/events.json"
RTP=$SPAWNED
wait_for 60 "rtp.py to start (see $OUT/rtp.log)" grep -q "ready" "$OUT/rtp.log"

note "provider: SIPp UAS at $PROV4:$SIP_PORT"
sipp_log() { # sipp_log NAME: SIPp's options for its message, error and screen logs
	# (and: a message that comes late, say a 200 retransmitted while a loaded guest
	# was slow to ACK it, does not abort the call)
	echo -default_behaviors all,-abortunexp -trace_msg -message_file "$OUT/$1-messages.log" -trace_err -error_file "$OUT/$1-errors.log" \
		-trace_screen -screen_file "$OUT/$1-screen.log"
}
spawn $PROV "$OUT/uas.log" sipp -sf "$DEMO/sipp/uas.xml" -inf "$OUT/uas.csv" -i $PROV4 -p $SIP_PORT \
	-key media $PROV4 -m $CALLS -nostdin -timeout "${TIMEOUT}s" $(sipp_log uas)
UAS=$SPAWNED
wait_for 60 "the SIPp UAS to listen (see $OUT/uas.log)" \
	sh -c "ip netns exec $PROV ss -Hlun src $PROV4:$SIP_PORT | grep -q ."

note "pbx: SIPp UAC calls $PROV4:$SIP_PORT"
spawn $PBX "$OUT/uac.log" sipp -sf "$DEMO/sipp/uac.xml" -inf "$OUT/uac.csv" -i $PBX4 -p $SIP_PORT \
	-key public $RTR_PUB4 -key ctl "$OUT/sip-events.log" -m $CALLS -l $CALLS -r 1000 \
	-recv_timeout 30s -nostdin -timeout "${TIMEOUT}s" $(sipp_log uac) $PROV4:$SIP_PORT
UAC=$SPAWNED
finish $UAC "$TIMEOUT" "the SIPp UAC (see $OUT/uac-errors.log, $OUT/uac-screen.log)"
finish $UAS 30 "the SIPp UAS (see $OUT/uas-errors.log, $OUT/uas-screen.log)"
finish $RTP 30 "rtp.py (see $OUT/rtp.log)"
sleep 0.5 # the last packets' way to the capture
kill -INT $TCPDUMP
finish $TCPDUMP 30 "tcpdump"
grep -E "captured|dropped by kernel" "$OUT/tcpdump.log" | sed 's/^/  /'
grep -q "^0 packets dropped by kernel" "$OUT/tcpdump.log" || fail "tcpdump dropped packets"

ended=$(grep -c ' bye ' "$OUT/sip-events.log" || true)
[ "$ended" = $CALLS ] || fail "$ended of $CALLS calls ended with a BYE"
note "all $CALLS calls held and resumed, $(($(stat -c %s "$OUT/provider.pcap") / 1024)) KiB captured"

note "router: rule counters"
ip netns exec $RTR $IPT -t nat -L POSTROUTING -v -n -x
if [ "$MODE" = fix ]; then
	# entries_left: whether profile moh still has an entry (an entry names the caller's
	# media address, the provider's)
	entries_left() {
		local list
		list=$($CTL profile entry list moh) || fail "ssnatctl profile entry list moh failed"
		grep -qF "$PROV4" <<<"$list"
	}
	# the follower removes each call's entry when it sees the BYE: give it time
	deadline=$((SECONDS + 30))
	while entries_left && [ $SECONDS -lt $deadline ]; do sleep 0.5; done
	kill -0 $FOLLOW 2>/dev/null || fail "ssnatctl follow exited early (see $OUT/follow.log)"
	ip netns exec $RTR $IPT -t raw -L PREROUTING -v -n -x
	ip netns exec $RTR $IPT -t mangle -L POSTROUTING -v -n -x
	note "/proc/net/xt_SSNAT"
	ip netns exec $RTR cat /proc/net/xt_SSNAT
	note "ssnatctl stats moh"
	$CTL stats moh
	note "ssnatctl profile entry list moh (after every BYE)"
	$CTL profile entry list moh
	! entries_left || fail "profile moh still has entries after every call ended"
fi
note "done: $OUT (check it with: demo/provider_check.py $OUT)"
