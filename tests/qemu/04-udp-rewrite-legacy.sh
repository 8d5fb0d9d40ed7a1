# UDP through a router: raw PREROUTING, NOTRACK then SSNAT; the receiver sees the new
# source with valid IPv4 and UDP checksums, the payload unchanged, nothing tracked;
# the rule's counters match.
. "$SSNAT_OUT/env.sh"; . "$REPO/tests/lib/guest.sh"
N=20

load_module
setup_topology
rtr_ipt 4 -t raw -A PREROUTING -i r0 -p udp --dport 6000 -j CT --notrack
rtr_ipt 4 -t raw -A PREROUTING -i r0 -p udp --dport 6000 -j SSNAT --to-source 198.51.100.7:4000
# A second flow with the UDP checksum left out: it must stay zero.
rtr_ipt 4 -t raw -A PREROUTING -i r0 -p udp --dport 6001 -j CT --notrack
rtr_ipt 4 -t raw -A PREROUTING -i r0 -p udp --dport 6001 -j SSNAT --to-source 198.51.100.9

capture_start rcv d0 $N rx udp
send --src $SND4 --sport 5004 --dst $RCV4 --dport 6000 --count $N
capture_wait rx
check rx --proto udp --count $N --src 198.51.100.7 --sport 4000 --dport 6000

capture_start rcv d0 5 rx0 udp
send --src $SND4 --sport 5005 --dst $RCV4 --dport 6001 --count 5 --zero-csum
capture_wait rx0
check rx0 --proto udp --count 5 --src 198.51.100.9 --sport 5005 --dport 6001 --zero-csum

ct=$(conntrack_count rtr)
[ "$ct" = 0 ] || fail "conntrack table of the router has $ct entries: $(ip netns exec rtr cat /proc/net/nf_conntrack)"
ip netns exec rtr cat /proc/net/xt_SSNAT
[ "$(counter rtr packets)" = $((N + 5)) ] || fail "counters: $(counter rtr packets) packets rewritten, expected $((N + 5))"
rtr_ipt 4 -t raw -F
rmmod xt_SSNAT || fail "rmmod"
echo "PASS: $N packets rewritten to 198.51.100.7:4000 with $IPT, 5 with a zero UDP checksum kept zero; conntrack empty; counters match"
