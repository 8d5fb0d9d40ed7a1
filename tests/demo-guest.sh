# `make demo`, inside the guest: a PBX-like sender, a router running SSNAT, a receiver.
. "$SSNAT_OUT/env.sh"; . "$REPO/tests/lib/guest.sh"
N=5
echo "== insmod xt_SSNAT.ko"
load_module
dmesg | grep SSNAT | tail -n1
echo "== topology: sender 10.0.1.2 -- [r0 router r1] -- 10.0.2.2 receiver"
setup_topology
echo "== router rules (iptables-legacy, raw table: never tracked)"
ip netns exec rtr iptables -t raw -A PREROUTING -i r0 -p udp --dport 6000 -j CT --notrack
ip netns exec rtr iptables -t raw -A PREROUTING -i r0 -p udp --dport 6000 -j SSNAT --to-source 198.51.100.7:4000
ip netns exec rtr iptables-save -t raw | grep -- '-A'
capture_start rtr r0 $N before
capture_start rcv d0 $N after
echo "== sending $N UDP packets 10.0.1.2:5004 -> 10.0.2.2:6000"
ip netns exec snd $PKT send --src 10.0.1.2 --sport 5004 --dst 10.0.2.2 --dport 6000 --count $N --inter 0.05
capture_wait before >/dev/null
capture_wait after >/dev/null
echo "== each packet as it enters the router, then as the receiver gets it"
$PKT show --pcap "$W/before.pcap" --label before
$PKT show --pcap "$W/after.pcap" --label after
$PKT check --pcap "$W/after.pcap" --src 198.51.100.7 --sport 4000 --dport 6000 --count $N
echo "== rule counters"
ip netns exec rtr iptables -t raw -L PREROUTING -v -n
echo "== conntrack entries in the router: $(conntrack_count rtr)"
echo "PASS: demo"
