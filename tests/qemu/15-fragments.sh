# Fragments (no conntrack, so no defragmentation in the router): the first fragment
# gets address and port, the later ones the address; the datagram reassembles with a
# valid UDP checksum. IPv4 and IPv6.
. "$SSNAT_OUT/env.sh"; . "$REPO/tests/lib/guest.sh"
N=5
load_module
setup_topology noct
rtr_ipt 4 -t mangle -A FORWARD -i r0 -p udp -j SSNAT --to-source 198.51.100.7:4000
capture_start rcv d0 $((N * 4)) rx udp
send --src $SND4 --dst $RCV4 --count $N --size 1000 --frag 296
capture_wait rx
check rx --proto udp --count $N --size 1000 --src 198.51.100.7 --sport 4000 --dport 6000 --fragments
rtr_ipt 6 -t mangle -A FORWARD -i r0 -p udp -j SSNAT --to-source "[2001:db8:99::7]:4000"
capture_start rcv d0 $((N * 4)) rx6 udp
send --family 6 --src $SND6 --dst $RCV6 --count $N --size 1000 --frag 296
capture_wait rx6
check rx6 --proto udp --count $N --size 1000 --src 2001:db8:99::7 --sport 4000 --dport 6000 --fragments
ip netns exec rtr cat /proc/net/xt_SSNAT
[ "$(counter rtr packets)" = $((N * 8)) ] || fail "expected $((N * 8)) fragments rewritten, counters say $(counter rtr packets)"
echo "PASS: IPv4 and IPv6 fragments rewritten; datagrams reassemble with valid checksums"
