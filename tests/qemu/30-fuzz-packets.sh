# seconds: 65 (about, on the release kernel: tests/run.sh starts the longest first)
# Fuzzes the packet path (tests/lib/pktfuzz.py): mutated seeds of every kind (IPv4 and
# IPv6; TCP, UDP, UDP-Lite, DCCP, SCTP, ICMP/ICMPv6 echo, ICMP errors quoting each,
# fragments, IPv4 options, IPv6 extension header chains) through SSNAT rules of every
# mapping form (fixed, range, prefix, port only, a profile), forwarded (mangle FORWARD;
# small frames linear, frames over a page paged) and locally generated (raw sockets,
# raw OUTPUT), with iptables-legacy and then iptables-nft. A model of ssnat-core's
# packet path checks every packet the receiver gets (skipped: unchanged but for what
# forwarding changes; rewritten: the mapping's translation, every touched checksum
# moved by exactly what it covers) and every rule's counters (the counting rule in
# front of it = packets + tracked + skip reasons, each as the model says).
# SSNAT_SCALE: check 20,000 packets, soak 200,000, quick 5,000 (make check's run on the
# debug kernel, 4 to 8 times slower under TCG); SSNAT_FUZZ_SEED repeats a run.
. "$SSNAT_OUT/env.sh"; . "$REPO/tests/lib/guest.sh"
case ${SSNAT_SCALE:-check} in
soak) COUNT=200000 ;;
quick) COUNT=5000 ;;
*) COUNT=20000 ;;
esac
SEED=${SSNAT_FUZZ_SEED:-$((RANDOM * 32768 + RANDOM))}
note "seed $SEED (SSNAT_FUZZ_SEED=$SEED repeats this run), $COUNT packets"
# -S: no site packages to look through (under TCG, every process started and every
# file first read costs seconds: this test starts few).
FUZZ="$PY -S $REPO/tests/lib/pktfuzz.py"
load_module
# setup_topology's namespaces, links and addresses, with conntrack (and so
# defragmentation) off in the router, so that fragments reach the rules as such; made
# here in a few batches, with permanent neighbours instead of pings (each process
# costs seconds under TCG). Jumbo frames: a frame of more than a page leaves the
# sender's AF_PACKET socket as a paged skb, its linear part as long as its virtio-net
# header says. Every fuzzed destination is routed to the receiver (pktfuzz.py:
# dst_subnet, marker_addr).
ip -b - <<-IP || fail "namespaces and links"
	netns add snd
	netns add rtr
	netns add rcv
	link add s0 netns snd address 02:55:00:00:00:02 mtu 9000 type veth peer name r0 netns rtr address $RTR_MAC mtu 9000
	link add r1 netns rtr address 02:55:00:00:02:01 mtu 9000 type veth peer name d0 netns rcv address 02:55:00:00:02:02 mtu 9000
IP
ip -n snd -b - <<-IP || fail "sender"
	link set lo up
	addr add $SND4/24 dev s0
	addr add $SND6/64 dev s0 nodad
	link set s0 up
IP
ip -n rtr -b - <<-IP || fail "router"
	link set lo up
	addr add $RTR4A/24 dev r0
	addr add $RTR4B/24 dev r1
	addr add $RTR6A/64 dev r0 nodad
	addr add $RTR6B/64 dev r1 nodad
	link set r0 up
	link set r1 up
	neigh add $SND4 lladdr 02:55:00:00:00:02 dev r0 nud permanent
	neigh add $SND6 lladdr 02:55:00:00:00:02 dev r0 nud permanent
	neigh add $RCV4 lladdr 02:55:00:00:02:02 dev r1 nud permanent
	neigh add $RCV6 lladdr 02:55:00:00:02:02 dev r1 nud permanent
	route add 10.128.0.0/11 via $RCV4
	route add 2001:db8:f0::/44 via $RCV6
IP
ip -n rcv -b - <<-IP || fail "receiver"
	link set lo up
	addr add $RCV4/24 dev d0
	addr add $RCV6/64 dev d0 nodad
	link set d0 up
IP
ip netns exec rtr sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1 net.ipv4.conf.all.rp_filter=0 \
	net.ipv4.conf.default.rp_filter=0 net.ipv4.conf.r0.rp_filter=0 net.ipv4.conf.r1.rp_filter=0 || fail "sysctl"

# The profile form: a profile per family and path, each mapping something the inline
# forms do not (a prefix with a port range, an address range alone, a fixed address
# and port on a rule without -p); 'profile add' lines, all at once.
PROFILES=(fz4f:4:fwd:203.0.113.0/25:40000-40999,7 fz4l:4:local:198.51.100.64-198.51.100.95,9
	"fz6f:6:fwd:[2001:db8:77::]/60:40000-40999,11" "fz6l:6:local:[2001:db8:77::5]:53,3")
args=()
for p in "${PROFILES[@]}"; do
	IFS=: read -r name fam _ spec <<<"$p"
	six=
	[ "$fam" = 4 ] || six=-6
	echo "profile add $name $six --to-source ${spec%,*} --random-seed ${spec##*,}"
	# Entries for the fuzzer's favourite destination port, one per protocol with
	# ports, with the profile's own mapping: every packet takes the entry lookup
	# (destination parsing of every mutation), those to port 6000 find an entry, and
	# what comes out is what the profile alone would make of it.
	dst=$RCV4
	[ "$fam" = 4 ] || dst="[$RCV6]"
	for proto in tcp udp udplite sctp dccp; do
		echo "profile entry add $name $dst:6000 -p $proto --to-source ${spec%,*} --random-seed ${spec##*,}"
	done
	args+=(--profile "$p")
done >"$W/profiles"
$BIN/ssnatctl -n rtr restore "$W/profiles" || fail "ssnatctl restore: $(cat "$W/profiles")"

# Kprobes on the glue's slow path: a copy of headers past the linear part, and bytes
# made writable beyond it. They show that paged skbs took that path.
T=/sys/kernel/tracing
[ -e $T/kprobe_events ] || mount -t tracefs nodev $T 2>/dev/null || true
probes=0
if echo 'p:fz_header ssnat_skb_header' >>$T/kprobe_events 2>/dev/null &&
	echo 'p:fz_writable ssnat_skb_writable_network' >>$T/kprobe_events 2>/dev/null &&
	echo 1 >$T/events/kprobes/enable; then
	probes=1
	trap 'echo 0 >$T/events/kprobes/enable; echo >$T/kprobe_events' EXIT
else
	note "no kprobes here: the paged path is not confirmed"
fi

start=$(date +%s)
ip netns exec rtr $FUZZ run --seed "$SEED" --count "$COUNT" --rtr-mac $RTR_MAC --out "$SSNAT_OUT" "${args[@]}" ||
	fail "packets through SSNAT not as the model says (seed $SEED; details in pktfuzz-failures.txt)"
note "fuzzing took $(($(date +%s) - start)) s"
if [ $probes = 1 ]; then
	hits=0
	while read -r probe n _; do
		note "kprobe $probe: $n hits"
		[ "$probe" != fz_header ] || hits=$n
	done <$T/kprobe_profile
	[ "$hits" -gt 0 ] || fail "no packet's headers lay past the linear part: no paged skb reached a rule"
fi
# The module logs nothing on the packet path: a message here is one too many.
dmesg >"$W/dmesg"
while read -r line; do
	case $line in
	*[Ss][Ss][Nn][Aa][Tt]*"loading out-of-tree module taints kernel"* | *"SSNAT target registered"*) ;;
	*[Ss][Ss][Nn][Aa][Tt]*) fail "xt_SSNAT logged while fuzzing: $line" ;;
	esac
done <"$W/dmesg"
echo "PASS: $COUNT fuzzed packets (seed $SEED) through every mapping form, forwarded and local, linear and paged, legacy and nft: as the model says, counters agree"
