# vcpus: 2
# seconds: 95 (about, on the release kernel: tests/run.sh starts the longest first)
# The module's lifecycle: rmmod refused while a rule uses the target (iptables-legacy
# and iptables-nft, IPv4 and IPv6, fixed and --profile rules), allowed once they are
# deleted; network namespaces torn down with rules and profiles in them free all of it
# (rmmod then succeeds, once the asynchronous cleanup is done); load and unload many
# times, some with rules or profiles in between; unload right after a flush while
# traffic runs through the rules (on the other vCPU); 10,000 rules restored into one
# table, flushed, and the module unloaded, with both backends (times printed).
# SSNAT_SCALE: check 100 load cycles, 10 flush-and-unload rounds, 10,000 rules; soak
# 1,000, 100 and 50,000.
. "$SSNAT_OUT/env.sh"; . "$REPO/tests/lib/guest.sh"
case ${SSNAT_SCALE:-check} in
soak) CYCLES=1000 FLUSHES=100 BIG=50000 ;;
*) CYCLES=100 FLUSHES=10 BIG=10000 ;;
esac
LIFE="$PY $REPO/tests/lib/lifecycle.py"
CHURN="$PY $REPO/tests/lib/churn.py"
CTL="$BIN/ssnatctl"
t0=$SECONDS
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }
# unload_within SECONDS: rmmod, retried while the module is in use (nft_compat and
# namespace teardown release their references from work items); the wait in $waited.
unload_within() {
	local t
	t=$(now)
	while ! rmmod xt_SSNAT 2>"$W/rmmod"; do
		grep -qi "in use" "$W/rmmod" || fail "rmmod: $(cat "$W/rmmod")"
		[ "$(since "$t" | cut -d. -f1)" -lt "$1" ] ||
			fail "rmmod still refused after $1 s: $(cat "$W/rmmod") (refcnt $(cat /sys/module/xt_SSNAT/refcnt))"
		sleep 0.1
	done
	[ ! -e /sys/module/xt_SSNAT ] || fail "module still there after rmmod"
	waited=$(since "$t")
}

# 1. Refused while a rule uses the target, for each backend; allowed after.
printf 'profile add p4 --to-source 198.51.100.7:4000\nprofile add p6 --to-source [2001:db8:99::7]:4000\n' >"$W/profiles"
for B in legacy nft; do
	load_module
	$CTL restore "$W/profiles" || fail "profiles"
	iptables-$B-restore --noflush <<-RULES || fail "iptables-$B rules"
		*raw
		-A PREROUTING -p udp -j SSNAT --to-source 198.51.100.7:4000
		-A PREROUTING -p udp -j SSNAT --profile p4
		COMMIT
	RULES
	ip6tables-$B-restore --noflush <<-RULES || fail "ip6tables-$B rules"
		*mangle
		-A FORWARD -p udp -j SSNAT --to-source [2001:db8:99::7]:4000
		-A FORWARD -j SSNAT --profile p6
		COMMIT
	RULES
	expect_fail "rmmod with $B IPv4 and IPv6 rules" rmmod xt_SSNAT
	grep -qi "in use" "$W/out" || fail "rmmod refused without saying the module is in use: $(cat "$W/out")"
	iptables-$B -t raw -F PREROUTING || fail "iptables-$B flush"
	# (nft_compat drops its references from a work item: let the IPv4 rules' go first)
	[ $B = legacy ] || sleep 1
	expect_fail "rmmod with $B IPv6 rules left" rmmod xt_SSNAT
	ip6tables-$B -t mangle -F FORWARD || fail "ip6tables-$B flush"
	unload_within 10
	note "$B: rmmod refused with IPv4 and IPv6 rules, then with the IPv6 ones; allowed $waited s after the last went"
done
nft delete table ip raw 2>/dev/null || true
nft delete table ip6 mangle 2>/dev/null || true
note "phase 1 done at $((SECONDS - t0)) s"

# 2. Namespaces torn down with everything in them: one per backend, each with an IPv4
# and an IPv6 profile, rules using them and fixed rules, a packet through each.
load_module
$CHURN netns-loop --seconds 120 --count 2 --out "$W/netns.json" || fail "namespaces with rules and profiles"
unload_within 30
note "module unloaded $waited s after the namespaces went away"
note "phase 2 done at $((SECONDS - t0)) s"

# 3. Load and unload, with rules (every 25th) or profiles (every 5th) in between.
$LIFE cycle --ko "$KO" --count $CYCLES --rule-every 25 --profile-every 5 || fail "load/unload cycles"
note "phase 3 done at $((SECONDS - t0)) s"

# 4. Unload right after a flush under traffic: the sender on vCPU 1, the rest on 0.
ip netns add fl
ip -n fl link set lo up
rm -f "$W/stop"
taskset -c 1 $LIFE blast --netns fl --seconds 36000 --rate 500 --stop "$W/stop" >"$W/blast" 2>&1 &
blast=$!
taskset -c 0 $LIFE flush --netns fl --ko "$KO" --count $FLUSHES || { touch "$W/stop"; fail "unload after a flush under traffic"; }
touch "$W/stop"
wait $blast || fail "sender: $(cat "$W/blast")"
cat "$W/blast"
note "phase 4 done at $((SECONDS - t0)) s"

# 5. BIG rules in one table, a flush, rmmod: iptables-legacy, then iptables-nft.
awk -v n=$BIG 'BEGIN {
	print "*raw"
	print ":big - [0:0]"
	for (i = 0; i < n; i++)
		printf "-A big -s 10.%d.%d.%d/32 -p udp -j SSNAT --to-source 192.0.2.%d:%d\n",
			100 + int(i / 62500), int(i / 250) % 250, i % 250 + 1, i % 250 + 1, 1024 + i % 60000
	print "COMMIT"
}' >"$W/big.rules"
for B in legacy nft; do
	load_module
	t=$(now)
	ip netns exec fl iptables-$B-restore --noflush <"$W/big.rules" || fail "iptables-$B-restore of $BIG rules"
	tr=$(since "$t")
	n=$(ip netns exec fl awk 'NR > 1' /proc/net/xt_SSNAT | wc -l)
	[ "$n" = $BIG ] || fail "$B: $n rules in /proc/net/xt_SSNAT, expected $BIG"
	t=$(now)
	ip netns exec fl iptables-$B -t raw -F big || fail "iptables-$B flush of $BIG rules"
	ip netns exec fl iptables-$B -t raw -X big || fail "iptables-$B delete chain"
	tf=$(since "$t")
	unload_within 60
	note "$B: $BIG rules restored in $tr s, flushed in $tf s, module unloaded $waited s after"
done
ip netns del fl
# What iptables-nft made in the initial namespace (phase 3's rules), now empty.
for t in "ip raw" "ip6 raw"; do nft delete table $t 2>/dev/null || true; done
echo "PASS: rmmod refused while legacy and nft rules (IPv4, IPv6, profiles) exist; namespaces' rules and profiles freed;" \
	"$CYCLES load cycles; $FLUSHES unloads right after a flush under traffic; $BIG rules per backend; $((SECONDS - t0)) s"
