# UDP through a router: raw PREROUTING, NOTRACK then SSNAT; the receiver sees the new
# source with valid IPv4 and UDP checksums, the payload unchanged, nothing tracked.
. "$SSNAT_OUT/env.sh"; . "$REPO/tests/lib/guest.sh"
IPT=${IPT:-iptables-legacy}
N=20

load_module
setup_topology
ip netns exec rtr $IPT -t raw -A PREROUTING -i r0 -p udp --dport 6000 -j CT --notrack
ip netns exec rtr $IPT -t raw -A PREROUTING -i r0 -p udp --dport 6000 -j SSNAT --to-source 198.51.100.7:4000
# A second flow with the UDP checksum left out: it must stay zero.
ip netns exec rtr $IPT -t raw -A PREROUTING -i r0 -p udp --dport 6001 -j CT --notrack
ip netns exec rtr $IPT -t raw -A PREROUTING -i r0 -p udp --dport 6001 -j SSNAT --to-source 198.51.100.9

capture_start rcv d0 $N rx
ip netns exec snd $PKT send --src 10.0.1.2 --sport 5004 --dst 10.0.2.2 --dport 6000 --count $N
capture_wait rx
$PKT check --pcap "$W/rx.pcap" --src 198.51.100.7 --sport 4000 --dport 6000 --count $N ||
	fail "packets at the receiver"

capture_start rcv d0 5 rx0
ip netns exec snd $PKT send --src 10.0.1.2 --sport 5005 --dst 10.0.2.2 --dport 6001 --count 5 --zero-csum
capture_wait rx0
$PKT check --pcap "$W/rx0.pcap" --src 198.51.100.9 --sport 5005 --dport 6001 --count 5 --zero-csum ||
	fail "zero-checksum packets at the receiver"

ct=$(conntrack_count rtr)
[ "$ct" = 0 ] || fail "conntrack table of the router has $ct entries: $(ip netns exec rtr cat /proc/net/nf_conntrack)"
ip netns exec rtr $IPT -t raw -L PREROUTING -v -n
ip netns exec rtr $IPT -t raw -F
rmmod xt_SSNAT || fail "rmmod"
echo "PASS: $N packets rewritten to 198.51.100.7:4000 with $IPT, 5 with a zero UDP checksum kept zero; conntrack empty"
