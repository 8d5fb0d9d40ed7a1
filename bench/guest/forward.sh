# The in-guest forwarding benchmark (scripts/bench-guest.sh boots it; the smoke test
# tests/qemu/23-bench-smoke.sh runs it small). Three namespaces, snd -- r0 [rtr] r1 --
# rcv, the receiver dropping everything at tc ingress of d0 and counting it there.
# pktgen in the router injects UDP packets into r0's receive path (or a real sender,
# bench/udp-blast, sends them from snd); the router forwards them with one of the
# variants below doing the same source rewrite (or none, for the baselines). Under
# QEMU -icount shift=0 one guest nanosecond is one guest instruction, so guest time
# elapsed / packets delivered = instructions per packet of the whole path.
#
# Settings (from $SSNAT_OUT/env.sh or the environment):
#   BENCH_MODE      full (1 vCPU: sections main profiles rules ports), smp (2 vCPUs:
#                   section smp), smoke (one small round of everything, for make check)
#                   (scripts/bench-guest.sh boots main and the scaling sections apart)
#   BENCH_SECTIONS  the sections to run, overriding the mode's
#   BENCH_VARIANTS  the variants of section main, overriding the full list
#   BENCH_ROUNDS    rounds (default 3): every round runs every variant once, in turn
#   BENCH_PACKETS   packets per measurement (default 20000)
#   BENCH_SIZES     frame sizes of section main's pktgen runs (default "64 1400")
#   BENCH_CHECK     packets of each correctness check (default 32; round 1 only)
#   BENCH_PACE_NS   guest ns between two packets of section paced (default 200000)
# Output in $SSNAT_OUT: runs.csv (one line per measurement), summary.csv, checks.txt,
# meta.txt.
. "$SSNAT_OUT/env.sh"
SSNAT_PKT_SERVER=0 . "$REPO/tests/lib/guest.sh"
# The module copied at boot (scripts/bench-guest.sh), if there: the work tree's may be
# rebuilt during a run.
[ ! -f "$BIN/xt_SSNAT.ko" ] || KO=$BIN/xt_SSNAT.ko
MODE=${BENCH_MODE:-full}
ROUNDS=${BENCH_ROUNDS:-3}
N=${BENCH_PACKETS:-20000}
SIZES=${BENCH_SIZES:-64 1400}
CHECK_N=${BENCH_CHECK:-32}
PACE_NS=${BENCH_PACE_NS:-200000}
CPUS=$(nproc)
CTL=$BIN/ssnatctl
NEW=198.51.100.7 NEWPORT=4000
SPORT=5004 DPORT=6000 FLOWS_MANY=64
S0_MAC=02:55:00:00:00:02 R1_MAC=02:55:00:00:02:01 D0_MAC=02:55:00:00:02:02
RUNS=$SSNAT_OUT/runs.csv
SPECS=$W/checks.spec
# (drain_fn's idle waits: a read from a FIFO that nobody writes)
mkfifo "$W/idle.fifo"

MAIN="none notrack mark ssnat-legacy ssnat-profile notrack-nft ssnat-nft notrack-nftables nft-payload tc nfqueue snat-conntrack"
[ "$CPUS" -lt 2 ] || MAIN="$MAIN nfqueue-balance"
MAIN=${BENCH_VARIANTS:-$MAIN}
case $MODE in
full) SECTIONS=${BENCH_SECTIONS:-main paced profiles entries rules ports} ;;
smp) SECTIONS=${BENCH_SECTIONS:-smp} ;;
smoke) SECTIONS=${BENCH_SECTIONS:-main unshared paced profiles entries rules ports smp} ;;
*) fail "BENCH_MODE $MODE: full, smp or smoke" ;;
esac
for f in "$BIN/udp-blast" "$BIN/nfq-rewriter" "$CTL"; do
	[ -x "$f" ] || fail "$f missing (built on the host: bench/build-helpers.sh)"
done

# section_variants SECTION: the variants of a section, in the order they alternate.
section_variants() {
	case $MODE:$1 in
	*:main) echo "$MAIN" ;;
	smoke:unshared) echo "ssnat-legacy nfqueue" ;;
	smoke:paced) echo "ssnat-legacy nfqueue" ;;
	*:paced) echo "notrack mark ssnat-legacy nfqueue" ;;
	smoke:profiles) echo "profiles-10" ;;
	*:profiles) echo "notrack profiles-1 profiles-100 profiles-10000" ;;
	smoke:entries) echo "entries-10" ;;
	*:entries) echo "notrack ssnat-profile entries-1 entries-1000 entries-100000" ;;
	smoke:rules) echo "ssnat-rules-10 mark-rules-10" ;;
	*:rules) echo "notrack ssnat-rules-1 ssnat-rules-100 ssnat-rules-1000 mark-rules-100 mark-rules-1000" ;;
	smoke:ports) echo "ssnat-port-65535" ;;
	*:ports) echo "notrack ssnat-port-1 ssnat-port-65535" ;;
	smoke:smp) echo "ssnat-legacy" ;;
	*:smp) echo "notrack ssnat-legacy nfqueue nfqueue-balance" ;;
	*) fail "unknown section $1" ;;
	esac
}

# section_runs SECTION: "SOURCE FLOWS THREADS SIZES..." of each measurement of a
# section's variants, all in the same router. pktgen: skb shared with pktgen, so the
# router's first write copies the header; pktgen-unshared: pktgen's "flag !SHARED";
# sender: bench/udp-blast in snd, a socket's own skbs; pktgen-paced: pktgen's shared
# skbs, one every PACE_NS, the cost being the CPUs' busy time (below).
section_runs() {
	case $MODE:$1 in
	smoke:main) echo "pktgen 1 1 64" ;;
	*:main)
		echo "pktgen 1 1 $SIZES"
		echo "pktgen-unshared 1 1 64"
		echo "sender 1 1 64" ;;
	*:unshared)
		echo "pktgen-unshared 1 1 64"
		echo "sender 1 1 64" ;;
	*:paced) echo "pktgen-paced 1 1 64" ;;
	*:profiles | *:entries | *:rules) echo "pktgen 1 1 64" ;;
	*:ports) echo "pktgen $FLOWS_MANY 1 64" ;;
	*:smp)
		echo "pktgen $FLOWS_MANY 1 64"
		[ "$CPUS" -lt 2 ] || echo "pktgen $FLOWS_MANY 2 64" ;;
	esac
}

# baseline_of VARIANT: what the variant's own cost is measured against.
baseline_of() {
	case $1 in
	none) echo "" ;;
	notrack | notrack-nft | notrack-nftables | tc | snat-conntrack) echo none ;;
	ssnat-nft) echo notrack-nft ;;
	nft-payload) echo notrack-nftables ;;
	*) echo notrack ;;
	esac
}

# rewrites VARIANT: whether the variant rewrites the source (else it is a baseline).
rewrites() {
	case $1 in
	none | notrack | mark | notrack-nft | notrack-nftables) return 1 ;;
	esac
}

log() { printf '[%(%T)T] %s\n' -1 "$*"; }

# ---------------------------------------------------------------- topology

# A namespace of its own holds one hook of each kind for the whole run (netfilter
# hooks, an ingress qdisc), so that the kernel's static keys never flip between
# variants: the first variant would otherwise run with the hooks patched out.
ip netns add hold
ip netns exec hold nft -f - <<-NFT
	table ip hold {
		chain c_pre { type filter hook prerouting priority 0; }
		chain c_in { type filter hook input priority 0; }
		chain c_fwd { type filter hook forward priority 0; }
		chain c_out { type filter hook output priority 0; }
		chain c_post { type filter hook postrouting priority 0; }
	}
NFT
ip -n hold link add h0 type veth peer name h1
ip netns exec hold tc qdisc add dev h0 ingress
# The receiver's drop: gact's "drop" where the kernel has it (CONFIG_NET_ACT_GACT);
# else act_nat with a drop verdict, which drops before looking at the packet.
if ip netns exec hold tc filter add dev h0 ingress matchall action drop 2>/dev/null; then
	SINK="action drop"
else
	SINK="action nat ingress 192.0.2.1/32 192.0.2.1 drop"
	ip netns exec hold tc filter add dev h0 ingress matchall $SINK || fail "no tc action to drop with"
fi

# The sender's and the receiver's namespaces stay; the router's is made anew for every
# variant: iptables-legacy tables, once used, keep their hooks (and the nat table
# conntrack) for the namespace's life. No IPv6 anywhere: no router solicitations, DAD
# or MLD timers during a measurement.
for ns in snd rcv; do
	ip netns add $ns
	ip netns exec $ns sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
done
KPG_BASE=$(pgrep -c kpktgend || true)

topo_up() {
	ip netns add rtr
	ip netns exec rtr sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1 \
		net.ipv4.ip_forward=1 net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0
	# (batches: every process start is slow under TCG)
	ip -b - <<-IP
		link add s0 netns snd address $S0_MAC type veth peer name r0 netns rtr address $RTR_MAC
		link add r1 netns rtr address $R1_MAC type veth peer name d0 netns rcv address $D0_MAC
	IP
	# Static neighbours: no packet of a run waits for ARP.
	ip -n rtr -b - <<-IP
		addr add $RTR4A/24 dev r0
		addr add $RTR4B/24 dev r1
		link set r0 up
		link set r1 up
		neigh replace $RCV4 lladdr $D0_MAC dev r1 nud permanent
	IP
	ip -n snd -b - <<-IP
		addr add $SND4/24 dev s0
		link set s0 up
		route add default via $RTR4A
		neigh replace $RTR4A lladdr $RTR_MAC dev s0 nud permanent
	IP
	ip -n rcv -b - <<-IP
		addr add $RCV4/24 dev d0
		link set d0 up
	IP
	# Packets arrive as from a NIC, their UDP checksum complete in the bytes (pktgen
	# and the sender compute it), not CHECKSUM_PARTIAL as veth's offload would leave them:
	# every variant must then update a real checksum.
	ip netns exec snd ethtool -K s0 tx off >/dev/null
	ip netns exec rtr ethtool -K r0 tx off >/dev/null
	tc -n rcv -b - <<-TC
		qdisc add dev d0 ingress
		filter add dev d0 ingress matchall $SINK
	TC
}

topo_down() {
	nfq_stop
	# (the peers s0 and d0 go with them)
	ip -n rtr link del r0
	ip -n rtr link del r1
	ip netns del rtr
	# The namespace goes away in a worker; wait for it (pktgen's threads of the old
	# router are among the last things to go), so that it does not run in a measurement.
	local i
	for i in $(seq 200); do
		[ "$(pgrep -c kpktgend || true)" -gt "$KPG_BASE" ] || break
		sleep 0.05
	done
	sleep 0.2
}

# ---------------------------------------------------------------- variants

notrack_legacy() { rtr_ipt 4 -t raw -A PREROUTING -i r0 -p udp -j CT --notrack; }

# rules_file KIND COUNT: a raw table with notrack, COUNT-1 non-matching rules (SSNAT or
# MARK, by source address) and the matching SSNAT rule last, for iptables-restore.
rules_file() {
	local kind=$1 count=$2 i
	echo "*raw"
	echo "-A PREROUTING -i r0 -p udp -j CT --notrack"
	for i in $(seq 1 $((count - 1))); do
		if [ "$kind" = ssnat ]; then
			echo "-A PREROUTING -s 10.9.$((i / 256)).$((i % 256)) -i r0 -p udp -j SSNAT --to-source 198.51.100.8:4001"
		else
			echo "-A PREROUTING -s 10.9.$((i / 256)).$((i % 256)) -i r0 -p udp -j MARK --set-mark 2"
		fi
	done
	echo "-A PREROUTING -i r0 -p udp -j SSNAT --to-source $NEW:$NEWPORT"
	echo "COMMIT"
}

NFQ_PIDS=()
# nfq_start QUEUE CPU: a userspace rewriter for QUEUE, pinned to CPU.
nfq_start() {
	local q=$1 cpu=$2 i
	ip netns exec rtr taskset -c "$cpu" "$BIN/nfq-rewriter" "$q" $NEW $NEWPORT \
		>"$W/nfq$q.out" 2>"$W/nfq$q.err" &
	NFQ_PIDS+=("$!")
	for i in $(seq 100); do
		grep -qx ready "$W/nfq$q.out" 2>/dev/null && return 0
		sleep 0.05
	done
	fail "nfq-rewriter $q did not start: $(cat "$W/nfq$q.err")"
}

nfq_stop() {
	local p
	for p in "${NFQ_PIDS[@]}"; do
		kill -TERM "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
	NFQ_PIDS=()
}

# run_fns: the source of two functions for a traffic run's own shell, bash builtins only
# (a process started, or a subshell forked, under TCG costs as much as a few hundred
# packets): "busy" sets BUSY to the CPUs' busy time so far (see traffic); "drain FILE"
# returns once no packet waits for a verdict in the queues FILE (an nfnetlink_queue
# file of /proc) lists, idle in between, taking nothing from a rewriter still at work.
# A run that may leave packets queued drains before its busy time is read.
run_fns() {
	cat <<-'FN'
		busy() {
			local l
			BUSY=0
			while read -r -a l; do [[ ${l[0]} != cpu* ]] || BUSY=$((BUSY + l[7])); done </proc/schedstat
		}
		drain() {
			local i n t
			[ -p "$W/idle.fifo" ] || { echo "drain: no $W/idle.fifo" >&2; return 1; }
			for i in {1..3000}; do
				t=0
				if [ -r "$1" ]; then while read -r _ _ n _; do t=$((t + n)); done <"$1"; fi
				[ $t != 0 ] || return 0
				read -t 0.01 <>"$W/idle.fifo" || true
			done
			echo "drain: $1 still holds $t packets" >&2
			return 1
		}
	FN
}

# nfq_report: waits until the router's queues are empty, then has every rewriter report;
# sets NFQ_LAST_US (latest verdict, CLOCK_REALTIME) and NFQ_COUNTS ("N N" per queue).
nfq_report() {
	local i p q lines
	# the third column of each queue: packets waiting for a verdict
	ip netns exec rtr bash -c '
		for i in {1..300}; do
			total=0
			while read -r _ _ n _; do total=$((total + n)); done </proc/net/netfilter/nfnetlink_queue
			[ $total = 0 ] && exit 0
			sleep 0.1
		done
		exit 1' || fail "NFQUEUE did not drain: $(ip netns exec rtr cat /proc/net/netfilter/nfnetlink_queue)"
	NFQ_LAST_US=0 NFQ_COUNTS=""
	q=0
	for p in "${NFQ_PIDS[@]}"; do
		lines=$(wc -l <"$W/nfq$q.out")
		kill -USR1 "$p"
		for i in $(seq 100); do
			[ "$(wc -l <"$W/nfq$q.out")" -gt "$lines" ] && break
			sleep 0.05
		done
		# rewritten N other N last_us T
		set -- $(tail -n 1 "$W/nfq$q.out")
		[ "${1:-}" = rewritten ] || fail "nfq-rewriter $q did not report: $(cat "$W/nfq$q.err")"
		NFQ_COUNTS="$NFQ_COUNTS $2"
		[ "$6" -le "$NFQ_LAST_US" ] || NFQ_LAST_US=$6
		q=$((q + 1))
	done
}

# variant_up VARIANT: the router's rules (and processes) for VARIANT.
variant_up() {
	local v=$1 last=$((CPUS - 1))
	case $v in
	none) ;;
	notrack) notrack_legacy ;;
	mark)
		notrack_legacy
		rtr_ipt 4 -t raw -A PREROUTING -i r0 -p udp -j MARK --set-mark 1 ;;
	ssnat-legacy | ssnat-port-1)
		notrack_legacy
		rtr_ipt 4 -t raw -A PREROUTING -i r0 -p udp -j SSNAT --to-source $NEW:$NEWPORT ;;
	ssnat-port-65535)
		notrack_legacy
		rtr_ipt 4 -t raw -A PREROUTING -i r0 -p udp -j SSNAT --to-source $NEW:1-65535 ;;
	ssnat-profile | profiles-*)
		# profiles-K: K profiles in the namespace, the rule's among them
		local k=1 i
		[ "$v" = ssnat-profile ] || k=${v#profiles-}
		{
			echo "profile add bench --to-source $NEW:$NEWPORT"
			for i in $(seq 2 "$k"); do echo "profile add p$i --to-source 198.51.100.8:4001"; done
		} >"$W/profiles"
		# (more than the default per-namespace cap of 1024)
		[ "$k" -le "$(cat /sys/module/xt_SSNAT/parameters/max_profiles)" ] ||
			echo "$k" >/sys/module/xt_SSNAT/parameters/max_profiles
		ip netns exec rtr "$CTL" restore "$W/profiles" >/dev/null || fail "ssnatctl restore ($k profiles)"
		[ "$(ip netns exec rtr "$CTL" profile list | wc -l)" = "$k" ] || fail "not $k profiles"
		notrack_legacy
		rtr_ipt 4 -t raw -A PREROUTING -i r0 -p udp -j SSNAT --profile bench ;;
	entries-*)
		# entries-K: an entries-only profile with K entries, the packets' destination
		# one of them (the last added), the others other callers' media addresses
		local k=${v#entries-} i
		{
			echo "profile add bench"
			for i in $(seq 2 "$k"); do
				echo "profile entry add bench 203.0.$((i / 250 % 250)).$((i % 250 + 1)):$((10000 + i % 50000)) --to-source $NEW:$((20000 + i % 40000))"
			done
			echo "profile entry add bench $RCV4:$DPORT --to-source $NEW:$NEWPORT"
		} >"$W/entries"
		ip netns exec rtr "$CTL" restore "$W/entries" >/dev/null || fail "ssnatctl restore ($k entries)"
		notrack_legacy
		rtr_ipt 4 -t raw -A PREROUTING -i r0 -p udp -j SSNAT --profile bench ;;
	ssnat-rules-* | mark-rules-*)
		rules_file "${v%%-*}" "${v##*-}" >"$W/rules"
		ip netns exec rtr iptables-legacy-restore "$W/rules" || fail "iptables-legacy-restore ($v)" ;;
	notrack-nft)
		IPT=iptables-nft rtr_ipt 4 -t raw -A PREROUTING -i r0 -p udp -j CT --notrack ;;
	ssnat-nft)
		IPT=iptables-nft rtr_ipt 4 -t raw -A PREROUTING -i r0 -p udp -j CT --notrack
		IPT=iptables-nft rtr_ipt 4 -t raw -A PREROUTING -i r0 -p udp -j SSNAT --to-source $NEW:$NEWPORT ;;
	notrack-nftables | nft-payload)
		local rewrite=""
		[ "$v" = notrack-nftables ] || rewrite="ip saddr set $NEW udp sport set $NEWPORT"
		ip netns exec rtr nft -f - <<-NFT
			table ip bench {
				chain pre {
					type filter hook prerouting priority raw;
					iifname "r0" meta l4proto udp notrack $rewrite
				}
			}
		NFT
		;;
	tc)
		# act_nat "egress" is its SNAT mode (source address; IPv4 and UDP checksums
		# updated), pedit writes the port, csum recomputes the UDP checksum after it.
		ip netns exec rtr tc qdisc add dev r0 ingress
		ip netns exec rtr tc filter add dev r0 ingress protocol ip matchall \
			action nat egress $SND4/32 $NEW pipe \
			action pedit ex munge udp sport set $NEWPORT pipe \
			action csum ip4h and udp ;;
	nfqueue)
		notrack_legacy
		rtr_ipt 4 -t raw -A PREROUTING -i r0 -p udp -j NFQUEUE --queue-num 0
		# with a CPU to spare, the rewriter gets the one pktgen does not start on
		nfq_start 0 $last ;;
	nfqueue-balance)
		[ "$CPUS" -ge 2 ] || fail "nfqueue-balance needs 2 vCPUs"
		notrack_legacy
		rtr_ipt 4 -t raw -A PREROUTING -i r0 -p udp -j NFQUEUE --queue-balance 0:1
		nfq_start 0 0
		nfq_start 1 1 ;;
	snat-conntrack)
		rtr_ipt 4 -t nat -A POSTROUTING -o r1 -p udp -j SNAT --to-source $NEW:$NEWPORT ;;
	*) fail "unknown variant $v" ;;
	esac
}

# variant_down: the router as topo_up left it (the smoke test reuses it): no rules,
# profiles, qdisc or rewriters. Legacy tables stay registered, empty.
variant_down() {
	nfq_stop
	ip netns exec rtr bash -c '
		set -e
		for t in $(cat /proc/net/ip_tables_names); do iptables-legacy -t $t -F; done
		nft flush ruleset
		tc qdisc del dev r0 ingress 2>/dev/null || true
		for p in $("$1" profile list); do "$1" profile del "$p"; done' - "$CTL" ||
		fail "the router's rules could not be removed"
}

# ---------------------------------------------------------------- traffic

delivered() {
	tc -n rcv -s qdisc show dev d0 ingress | awk '/Sent/ { print $4; exit }'
}

# traffic SOURCE SIZE COUNT FLOWS THREADS: sends COUNT packets of SIZE bytes (frames);
# sets T_OFFERED, T_ELAPSED_NS (guest time of the run), T_BUSY_NS (the CPUs' busy time
# over the run, the queues drained) and T_START_US (CLOCK_REALTIME).
#
# The busy time is the sum over CPUs of the time tasks ran (the scheduler's rq_cpu_time,
# /proc/schedstat's seventh field; in ns of the guest's clock, so instructions under
# -icount): everything the CPUs did for the packets (pktgen's thread, softirqs run in
# it, a userspace rewriter and the forwarding done in its verdicts), without the idle
# task, plus a constant of the run's own (starting pktgen's thread, the reads). The
# elapsed time is pktgen's own, from its first packet to its last: exact, but blind to a
# rewriter's queue still draining after it, while the time to the rewriter's last
# verdict takes in the idle wait before pktgen's thread sees "start" (up to 100 ms: it
# polls). So forward_report.py takes the busy time where a userspace rewriter works
# (NFQUEUE) and for the paced runs, the elapsed time elsewhere, each against its
# baseline's figure of the same kind. Paced (pktgen's "delay", above 100 us so that its
# thread sleeps between packets, not spins), each packet meets an idle router and a
# rewriter asleep in recv(), as a router sending a few RTP streams does.
traffic() {
	local source=$1 size=$2 count=$3 flows=$4 threads=$5 t dev out delay=0
	T_BUSY_NS=""
	case $source in
	pktgen | pktgen-unshared | pktgen-paced)
		[ "$source" != pktgen-paced ] || delay=$PACE_NS
		[ "$delay" = 0 ] || [ "$delay" -ge 100000 ] || fail "BENCH_PACE_NS $delay: pktgen spins below 100000"
		{
			echo 'set -e'
			echo "W=$W"
			run_fns
			echo 'pg() { echo "$2" >"/proc/net/pktgen/$1" || { echo "pktgen $1: $2 refused" >&2; exit 1; }; }'
			# rem_device_all takes effect when the thread gets to it: wait for that
			# (bash builtins only: under TCG every process started costs)
			echo 'rem() {'
			echo '	local i l busy'
			echo '	pg "$1" rem_device_all'
			echo '	for i in {1..200}; do'
			echo '		busy=0'
			echo '		while read -r l; do case $l in Running:?* | Stopped:?*) busy=1 ;; esac; done <"/proc/net/pktgen/$1"'
			echo '		[ $busy = 1 ] || return 0'
			echo '		sleep 0.05'
			echo '	done'
			echo '	echo "pktgen $1: devices not removed" >&2; exit 1'
			echo '}'
			# thread t runs device r0@t, set up anew only when the thread has another
			echo 'has() {'
			echo '	local l devs=""'
			echo '	while read -r l; do'
			echo '		case $l in Running:* | Stopped:*) l=${l#*:}; l=${l# }; [ -z "$l" ] || devs+="${devs:+ }$l" ;; esac'
			echo '	done <"/proc/net/pktgen/$1"'
			echo '	[ "$devs" = "$2" ]'
			echo '}'
			for t in $(seq 0 $((CPUS - 1))); do
				dev=""
				[ "$t" -ge "$threads" ] || dev=r0@$t
				echo "has kpktgend_$t '$dev' || { rem kpktgend_$t; ${dev:+pg kpktgend_$t 'add_device $dev'; }}"
			done
			for t in $(seq 0 $((threads - 1))); do
				dev=r0@$t
				echo "pg $dev 'xmit_mode netif_receive'"
				echo "pg $dev 'count $((count / threads))'"
				echo "pg $dev 'clone_skb 0'"
				echo "pg $dev 'burst 1'"
				echo "pg $dev 'pkt_size $size'"
				echo "pg $dev 'delay $delay'"
				echo "pg $dev 'flag UDPCSUM'"
				# pktgen's skb shared (it keeps a reference; ip_rcv clones it) or not
				if [ "$source" != pktgen-unshared ]; then echo "pg $dev 'flag SHARED'"; else echo "pg $dev 'flag !SHARED'"; fi
				echo "pg $dev 'dst_mac $RTR_MAC'"
				# FLOWS flows: source address and port both step through FLOWS values
				# (NFQUEUE's --queue-balance hashes the addresses only)
				echo "pg $dev 'src_min $SND4'"
				echo "pg $dev 'src_max ${SND4%.*}.$((${SND4##*.} + flows - 1))'"
				echo "pg $dev 'dst $RCV4'"
				echo "pg $dev 'udp_src_min $SPORT'"
				echo "pg $dev 'udp_src_max $((SPORT + flows - 1))'"
				echo "pg $dev 'udp_dst_min $DPORT'"
				echo "pg $dev 'udp_dst_max $DPORT'"
			done
			echo 'busy; b0=$BUSY'
			echo 'echo "start ${EPOCHREALTIME/./}"'
			echo 'pg pgctrl start'
			# NFQUEUE: the rewriter's last verdict
			echo 'drain /proc/net/netfilter/nfnetlink_queue'
			echo 'busy; echo "busy $((BUSY - b0))"'
			for t in $(seq 0 $((threads - 1))); do
				dev=r0@$t
				# "Result: OK: 1234(c1200+d34) usec, 50000 (64byte,0frags)"
				echo "awk '/^Result: OK:/ { sub(/\\(.*/, \"\", \$3); us = \$3 } /pkts-sofar:/ { n = \$2 } END { print \"dev\", us, n }' /proc/net/pktgen/$dev"
			done
		} >"$W/pg.sh"
		out=$(ip netns exec rtr bash "$W/pg.sh") || fail "pktgen: $out"
		T_START_US=$(echo "$out" | awk '$1 == "start" { print $2 }')
		T_ELAPSED_NS=$(echo "$out" | awk '$1 == "dev" && $2 * 1000 > e { e = $2 * 1000 } END { printf "%.0f", e }')
		T_OFFERED=$(echo "$out" | awk '$1 == "dev" { n += $3 } END { print n + 0 }')
		T_BUSY_NS=$(echo "$out" | awk '$1 == "busy" { print $2 }')
		;;
	sender)
		[ "$threads" = 1 ] || fail "the sender is one thread"
		# sent N elapsed_ns T start_us S end_us E; then the router's queues drained
		# (seen through the rewriter's /proc/PID/net: the sender is in another namespace)
		# and "busy N"
		out=$(ip netns exec snd bash -c "set -e; W=$W; $(run_fns)
			busy; b0=\$BUSY
			\"\$@\"
			${NFQ_PIDS[0]:+drain /proc/${NFQ_PIDS[0]}/net/netfilter/nfnetlink_queue}
			busy; echo \"busy \$((BUSY - b0))\"" - \
			"$BIN/udp-blast" $SND4 $SPORT $RCV4 $DPORT "$count" $((size - 42)) "$flows") ||
			fail "udp-blast: $out"
		set -- $out
		T_OFFERED=$2 T_ELAPSED_NS=$4 T_START_US=$6 T_BUSY_NS=${10}
		[ "$9" = busy ] || fail "udp-blast: $out"
		;;
	esac
	[ "${T_ELAPSED_NS:-0}" -gt 0 ] || fail "$source: no elapsed time ($out)"
	# A userspace rewriter may still be draining its queue when the generator ends:
	# the run ends with its last verdict.
	if [ ${#NFQ_PIDS[@]} -gt 0 ]; then
		nfq_report
		local drained=$(((NFQ_LAST_US - T_START_US) * 1000))
		[ "$drained" -le "$T_ELAPSED_NS" ] || T_ELAPSED_NS=$drained
	fi
}

# measure SECTION VARIANT SOURCE FLOWS THREADS SIZE ROUND COUNT CAPTURE: one run of
# COUNT packets; a CSV line unless it is a correctness check (CAPTURE=check: captured
# at the receiver, before its drop; capcheck.py checks the packets after round 1);
# CAPTURE=both (the smoke test) does both in one run.
measure() {
	local section=$1 v=$2 source=$3 flows=$4 threads=$5 size=$6 round=$7 count=$8 capture=$9
	local before got pid i name src lo hi
	count=$((count / threads * threads))
	name=$section-$v-$source-$size-t$threads
	if [ "$capture" != no ]; then
		rm -f "$W/$name.err"
		ip netns exec rcv tcpdump -Z root -i d0 -Q in -nn -U -c "$count" -w "$W/$name.pcap" udp \
			2>"$W/$name.err" &
		pid=$!
		for i in $(seq 200); do
			grep -q "listening on" "$W/$name.err" 2>/dev/null && break
			sleep 0.05
		done
	fi
	before=$(delivered)
	traffic "$source" "$size" "$count" "$flows" "$threads"
	got=$(($(delivered) - before))
	[ "$got" -gt 0 ] || fail "$section/$v ($source, $size bytes): no packet reached the receiver"
	case $v in
	nfqueue*) ;;
	*) [ "$got" = "$T_OFFERED" ] || note "$section/$v ($source, $size bytes): $got of $T_OFFERED packets delivered" ;;
	esac
	if [ "$v" = nfqueue-balance ]; then
		set -- $NFQ_COUNTS
		[ "$1" -gt 0 ] && [ "$2" -gt 0 ] || fail "nfqueue-balance: the queues rewrote $1 and $2 packets"
	fi
	if [ "$capture" != no ]; then
		for i in $(seq 100); do
			kill -0 $pid 2>/dev/null || break
			sleep 0.1
		done
		kill -INT $pid 2>/dev/null || true
		wait $pid 2>/dev/null || true
		src=$SND4 lo=$SPORT hi=$((SPORT + flows - 1))
		[ "$flows" = 1 ] || [ "$source" = sender ] || src=$SND4-${SND4%.*}.$((${SND4##*.} + flows - 1))
		if rewrites "$v"; then
			src=$NEW lo=$NEWPORT hi=$NEWPORT
			[ "$v" != ssnat-port-65535 ] || lo=1 hi=65535
		fi
		# every packet offered must arrive (NFQUEUE's queue holds a check's few)
		echo "$name $W/$name.pcap $src $lo $hi $DPORT $T_OFFERED $((size - 14))" >>"$SPECS"
		[ "$capture" = both ] || return 0
	fi
	echo "$section,$v,$(baseline_of "$v"),$size,$source,$flows,$threads,$CPUS,$round,$T_OFFERED,$got,$T_ELAPSED_NS,$T_BUSY_NS" >>"$RUNS"
	log "$section $v $source ${size}B flows=$flows threads=$threads: $got/$T_OFFERED delivered," \
		"$((T_ELAPSED_NS / got)) ns/pkt${T_BUSY_NS:+, busy $((T_BUSY_NS / got)) ns/pkt}"
}

check_all() {
	[ -s "$SPECS" ] || return 0
	$PY "$REPO/bench/guest/capcheck.py" "$SPECS" | tee -a "$SSNAT_OUT/checks.txt" >"$W/checks.out" || {
		grep '^FAIL' "$W/checks.out"
		fail "packets rewritten wrongly (see checks.txt)"
	}
	note "$(grep -c '^ok' "$W/checks.out") captures checked: sources, ports and checksums as expected"
	: >"$SPECS"
}

# ---------------------------------------------------------------- the run

load_module
{
	echo "mode $MODE"
	echo "kernel $(uname -r) $(uname -v)"
	echo "vcpus $CPUS"
	echo "rounds $ROUNDS"
	echo "packets $N"
	echo "module $(cat /sys/module/xt_SSNAT/version 2>/dev/null || echo '?') srcversion $(cat /sys/module/xt_SSNAT/srcversion 2>/dev/null || echo '?')"
	echo "sink $SINK"
	echo "clocksource $(cat /sys/devices/system/clocksource/clocksource0/current_clocksource)"
} >"$SSNAT_OUT/meta.txt"
cat "$SSNAT_OUT/meta.txt"
echo "section,variant,baseline,size,source,flows,threads,vcpus,round,offered,delivered,elapsed_ns,busy_ns" >"$RUNS"
: >"$SSNAT_OUT/checks.txt"
: >"$SPECS"
count=0 up=0
for round in $(seq 1 "$ROUNDS"); do
	for section in $SECTIONS; do
		log "round $round: section $section"
		for v in $(section_variants "$section"); do
			[ "$v" != nfqueue-balance ] || [ "$CPUS" -ge 2 ] || continue
			[ $up = 1 ] || topo_up
			up=1
			variant_up "$v"
			mapfile -t runs < <(section_runs "$section")
			for run in "${runs[@]}"; do
				read -r source flows threads sizes <<<"$run"
				# queue-balance hashes addresses: pktgen's flows; the sender's differ in port only
				if [ "$v" = nfqueue-balance ]; then
					[ "$source" != sender ] || continue
					flows=$FLOWS_MANY
				fi
				for size in $sizes; do
					if [ "$MODE" = smoke ]; then
						measure "$section" "$v" "$source" "$flows" "$threads" "$size" "$round" "$N" both
					else
						measure "$section" "$v" "$source" "$flows" "$threads" "$size" "$round" "$N" no
						# (pktgen's !SHARED packets are its shared ones: checked as those)
						[ "$round" != 1 ] || [ "$source" = pktgen-unshared ] ||
							measure "$section" "$v" "$source" "$flows" "$threads" "$size" "$round" "$CHECK_N" check
					fi
					count=$((count + 1))
				done
			done
			# The smoke test keeps its router (and time) unless conntrack came on in it.
			if [ "$MODE" = smoke ] && [ "$v" != snat-conntrack ]; then
				variant_down
			else
				topo_down
				up=0
			fi
		done
	done
	[ "$round" != 1 ] || check_all
done
[ $up = 0 ] || topo_down
$PY "$REPO/bench/forward_report.py" summarize "$RUNS" >"$SSNAT_OUT/summary.csv" || fail "summarize"
for ns in hold snd rcv; do ip netns del $ns; done
echo "PASS: $count measurements in $ROUNDS round(s) ($SECTIONS; $N packets each), every variant moved packets, $(grep -c '^ok' "$SSNAT_OUT/checks.txt") captures rewritten right"
