# vcpus: 2
# seconds: 150 (about, on the release kernel: tests/run.sh starts the longest first)
# Reconfiguration under traffic on both vCPUs loses nothing. Two senders, pinned to
# the two vCPUs (veth hands a packet to the router on the sending CPU), each push four
# flows through the router: IPv4 and IPv6 flows through fixed-mapping rules that stay,
# an IPv4 flow through a --profile rule whose profile is replaced as fast as the
# kernel takes it (genl_raw.py flip, between A and B), and a control flow with no
# rule. Meanwhile 1,000 SSNAT rules are restored into a chain of their own in the
# same table (which every flow walks through, matching none of them) and flushed,
# again and again, and network namespaces with SSNAT rules and profiles are created
# and destroyed in a loop. The receiver checks every packet as it comes (checksums
# from scratch; the profile flow carries A or B whole, never torn) and counts every
# flow's sequence numbers against what the router took in (nft counters before the
# raw table and after everything). Then everything goes and the module unloads.
# SSNAT_SCALE: check 60 s of churn, soak 10 minutes.
. "$SSNAT_OUT/env.sh"; . "$REPO/tests/lib/guest.sh"
case ${SSNAT_SCALE:-check} in
soak) DUR=600 ;;
*) DUR=60 ;;
esac
RATE=${CHURN_RATE:-50} # packets/s per sender, over its four flows (the receiver checks each in Python)
CHURN="$PY $REPO/tests/lib/churn.py"
CTL="$BIN/ssnatctl"
A=198.51.100.7:4000 B=198.51.100.8:5000
FIX4=198.51.100.9:4009 FIX6=[2001:db8:99::9]:4009
R="ip netns exec rtr"
t0=$SECONDS
load_module
nproc | grep -qx 2 || fail "guest has $(nproc) CPUs, the test needs 2"
# Room in the backlog for a burst when a vCPU was away (global, the guest is ours).
sysctl -qw net.core.netdev_max_backlog=10000
setup_topology noct

# Flows of sender k (k = 0, 1): ID fixed4 1+k, fixed6 11+k, profile 21+k, control 31+k.
flows() { # K: the sender's --flow options
	local k=$1
	echo "--flow $((1 + k)),4,$SND4,$((5000 + k)),$RCV4,6000 --flow $((11 + k)),6,$SND6,$((5010 + k)),$RCV6,6000" \
		"--flow $((21 + k)),4,$SND4,$((5100 + k)),$RCV4,6000 --flow $((31 + k)),4,$SND4,$((5200 + k)),$RCV4,6000"
}
IDS="1 2 11 12 21 22 31 32"
sport_of() { case $1 in 1 | 2 | 11 | 12) echo $((4999 + $1)) ;; 21 | 22) echo $((5079 + $1)) ;; *) echo $((5169 + $1)) ;; esac; }

printf 'profile add moh --to-source %s\nprofile add bulk --to-source 192.0.2.99:999\n' $A |
	$R $CTL restore || fail "profiles moh and bulk"
$R ${IPT}-restore --noflush <<-RULES || fail "${IPT}-restore of the test's rules"
	*raw
	:churn - [0:0]
	-A PREROUTING -i r0 -p udp -m udp --sport 5000:5001 -j SSNAT --to-source $FIX4
	-A PREROUTING -i r0 -p udp -m udp --sport 5100:5101 -j SSNAT --profile moh
	-A PREROUTING -i r0 -p udp -j churn
	COMMIT
RULES
$R ${IP6T}-restore --noflush <<-RULES || fail "${IP6T}-restore of the test's rules"
	*raw
	-A PREROUTING -i r0 -p udp -m udp --sport 5010:5011 -j SSNAT --to-source $FIX6
	COMMIT
RULES
# The bulk rules: sources no test packet has, every 100th through a profile.
awk 'BEGIN {
	print "*raw"
	for (i = 0; i < 1000; i++) {
		m = i % 100 ? sprintf("--to-source 192.0.2.%d:%d", i % 250 + 1, 10000 + i) : "--profile bulk"
		printf "-A churn -s 10.99.%d.%d/32 -p udp -j SSNAT %s\n", int(i / 250), i % 250 + 1, m
	}
	print "COMMIT"
}' >"$W/churn.rules"

# Router counters per flow: in before the raw table, out after everything.
{
	echo "table inet tally {"
	for id in $IDS; do echo "counter in_$id {}"; echo "counter out_$id {}"; done
	echo "chain pre { type filter hook prerouting priority -400;"
	for id in $IDS; do echo "iif \"r0\" udp sport $(sport_of $id) counter name in_$id"; done
	echo "}"
	echo "chain post { type filter hook postrouting priority 400;"
	for id in $IDS; do echo "oif \"r1\" udp dport 6000 @th,96,16 $id counter name out_$id"; done
	echo "}"; echo "}"
} >"$W/meter.nft"
$R nft -f "$W/meter.nft" || fail "nft meter table"
# The receiver only looks (its tap sees the packets before this drop): no port
# unreachable of its own.
ip netns exec rcv nft -f - <<-NFT
	table inet sink {
		chain pre { type filter hook prerouting priority -400; udp dport 6000 drop; }
	}
NFT

expect="--expect 1=$FIX4 --expect 2=$FIX4 --expect 11=$FIX6 --expect 12=$FIX6"
expect="$expect --expect 21=$A|$B --expect 22=$A|$B --expect 31=$SND4:5200 --expect 32=$SND4:5201"
note "set up in $((SECONDS - t0)) s"
rm -f "$W/stop" "$W/rx.ready" "$W"/s?.ready
# The receiver and the two senders, forked from one Python (each of its starts costs
# seconds in the guest); the senders start once the receiver is ready.
# shellcheck disable=SC2046,SC2086 # word lists
$CHURN together -- recv --netns rcv --iface d0 --dport 6000 $expect --ready "$W/rx.ready" --stop "$W/stop" \
	--idle 3 --out "$W/rx.json" \
	-- send --netns snd --cpu 0 --iface s0 --dst-mac $RTR_MAC $(flows 0) --rate "$RATE" --after "$W/rx.ready" \
	--stop "$W/stop" --ready "$W/s0.ready" --out "$W/s0.json" \
	-- send --netns snd --cpu 1 --iface s0 --dst-mac $RTR_MAC $(flows 1) --rate "$RATE" --after "$W/rx.ready" \
	--stop "$W/stop" --ready "$W/s1.ready" --out "$W/s1.json" >"$W/traffic.log" 2>&1 &
traffic=$!
# Churn only once both senders' packets flow.
for i in $(seq 3000); do
	[ -f "$W/s0.ready" ] && [ -f "$W/s1.ready" ] && break
	kill -0 $traffic 2>/dev/null || break
	sleep 0.1
done
[ -f "$W/s0.ready" ] && [ -f "$W/s1.ready" ] || fail "traffic did not start: $(cat "$W/traffic.log")"
note "traffic flowing after $((SECONDS - t0)) s; churn for $DUR s"

# The churn, all for DUR seconds: profile replacements and namespaces (one Python),
# bulk rules (here).
$CHURN together -- flip --netns rtr moh $B $A $DUR --out "$W/flips" \
	-- netns-loop --seconds $DUR --out "$W/netns.json" >"$W/churn.log" 2>&1 &
churn=$!
restores=0 slowest=0
end=$((SECONDS + DUR))
while [ $SECONDS -lt $end ]; do
	c0=$SECONDS
	$R ${IPT}-restore --noflush <"$W/churn.rules" || fail "${IPT}-restore of 1,000 rules (round $restores)"
	$R $IPT -t raw -F churn || fail "flush of the bulk chain (round $restores)"
	restores=$((restores + 1))
	[ $((SECONDS - c0)) -le $slowest ] || slowest=$((SECONDS - c0))
done
wait $churn || fail "profile replacements or namespaces: $(cat "$W/churn.log")"
cat "$W/churn.log"
flips=$(cat "$W/flips")
namespaces=$(sed -n 's/.*"created": \([0-9]*\).*/\1/p' "$W/netns.json")
touch "$W/stop"
wait $traffic || fail "traffic: $(cat "$W/traffic.log")"
cat "$W/traffic.log"
note "churn over after $((SECONDS - t0)) s; slowest restore and flush: $slowest s"
note "$flips profile replacements ($((flips / DUR))/s), $restores restores of 1,000 rules and as many flushes," \
	"$namespaces namespaces, in $DUR s"
for d in s0 r0 r1 d0; do
	ns=snd
	case $d in r*) ns=rtr ;; d*) ns=rcv ;; esac
	ip -n $ns -s link show $d | awk -v d=$d '/RX:/ { getline; rx = $4 } /TX:/ { getline; tx = $4 } END { printf "# %s: rx dropped %s, tx dropped %s\n", d, rx, tx }'
done
sd=0
while read -r _ d _; do sd=$((sd + 16#$d)); done </proc/net/softnet_stat
note "softnet backlog drops: $sd"
$R nft -j list counters table inet tally >"$W/router.json" || fail "router counters"
$R $CTL stats --json >"$W/stats.json" || fail "ssnatctl stats"
$R cat /proc/net/xt_SSNAT >"$W/proc"
cat "$W/proc"
$CHURN report --recv "$W/rx.json" --sent "$W/s0.json" --sent "$W/s1.json" --router "$W/router.json" \
	--profile-flows 21,22 --stats "$W/stats.json" --profile moh --bulk-profile bulk --proc "$W/proc" ||
	fail "traffic through the churn"
# (Lower bounds only: how much churn fits in DUR depends on the host's load.)
[ "$flips" -ge "$DUR" ] || fail "only $flips profile replacements in $DUR s"
[ $restores -ge 1 ] || fail "only $restores bulk restores in $DUR s"
[ "$namespaces" -ge 1 ] || fail "no namespace created in $DUR s"

# Everything goes, then the module: the namespaces' cleanup is asynchronous.
$R $IPT -t raw -F
$R $IPT -t raw -X churn
$R $IP6T -t raw -F
$R $CTL profile del moh || fail "profile del moh"
$R $CTL profile del bulk || fail "profile del bulk (its rules are gone)"
for ns in snd rtr rcv; do ip netns del $ns; done
t1=$SECONDS
while ! rmmod xt_SSNAT 2>"$W/rmmod"; do
	[ $((SECONDS - t1)) -lt 60 ] || fail "rmmod 60 s after the churn: $(cat "$W/rmmod") (refcnt $(cat /sys/module/xt_SSNAT/refcnt))"
	sleep 0.2
done
note "module unloaded $((SECONDS - t1)) s after the namespaces were deleted; test took $((SECONDS - t0)) s"
echo "PASS: $DUR s of churn on 2 vCPUs ($flips profile replacements, $restores restores and flushes of 1,000 rules," \
	"$namespaces namespaces with rules and profiles): every packet whole, none lost; rmmod after"
