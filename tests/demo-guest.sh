# `make demo`, inside the guest: a PBX-like sender, a router running SSNAT, a receiver.
. "$SSNAT_OUT/env.sh"; . "$REPO/tests/lib/guest.sh"
N=5
echo "== insmod xt_SSNAT.ko"
load_module
dmesg | grep SSNAT | tail -n1
echo "== topology: sender $SND4 -- [r0 router r1] -- $RCV4 receiver"
setup_topology
echo "== router rules (raw table: never tracked)"
ip netns exec rtr iptables -t raw -A PREROUTING -i r0 -p udp --dport 6000 -j CT --notrack
ip netns exec rtr iptables -t raw -A PREROUTING -i r0 -p udp --dport 6000 -j SSNAT --to-source 198.51.100.7:4000
ip netns exec rtr iptables-save -t raw | grep -- '^-A'
capture_start rtr r0 $N before udp
capture_start rcv d0 $N after udp
echo "== sending $N RTP-like UDP packets $SND4:5004 -> $RCV4:6000"
send --src $SND4 --sport 5004 --dst $RCV4 --dport 6000 --count $N --size 172 --inter 0.02
capture_wait before >/dev/null
capture_wait after >/dev/null
echo "== each packet as it enters the router, then as the receiver gets it"
$PKT show --cap "$W/before.cap" --label before
$PKT show --cap "$W/after.cap" --label after
check after --proto udp --count $N --size 172 --src 198.51.100.7 --sport 4000 --dport 6000
echo "== rule counters (iptables -v, /proc/net/xt_SSNAT)"
ip netns exec rtr iptables -t raw -L PREROUTING -v -n
ip netns exec rtr cat /proc/net/xt_SSNAT
echo "== conntrack entries in the router: $(conntrack_count rtr)"

echo "== runtime profile: the rule names a profile, ssnatctl changes its mapping"
CTL="ip netns exec rtr $BIN/ssnatctl"
echo "\$ ssnatctl profile add moh --to-source 198.51.100.7:4000"
$CTL profile add moh --to-source 198.51.100.7:4000
ip netns exec rtr iptables -t raw -R PREROUTING 2 -i r0 -p udp --dport 6000 -j SSNAT --profile moh
ip netns exec rtr iptables-save -t raw | grep -- '-j SSNAT'
for to in 198.51.100.7:4000 198.51.100.8:4002; do
	if [ $to != 198.51.100.7:4000 ]; then
		echo "\$ ssnatctl profile set moh --to-source $to"
		$CTL profile set moh --to-source $to
	fi
	capture_start rcv d0 2 "p$to" udp
	send --src $SND4 --sport 5004 --dst $RCV4 --dport 6000 --count 2 --size 172 >/dev/null
	capture_wait "p$to" >/dev/null
	$PKT show --cap "$W/p$to.cap" --label after
	check "p$to" --proto udp --count 2 --size 172 --src "${to%:*}" --sport "${to#*:}" --dport 6000 >/dev/null
done
echo "\$ ssnatctl profile show"
$CTL profile show
echo "PASS: demo"
