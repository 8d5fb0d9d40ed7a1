# A real TCP stream through the router with checksum offload and TSO on (veth's
# defaults): GSO packets with CHECKSUM_PARTIAL are rewritten once, the receiver's TCP
# accepts every segment (the data arrive intact from the translated address) and its
# raw socket checks each segment's checksum (or pseudo-header sum while partial).
# The way back is mapped with an nft payload rule (test scaffolding only).
. "$SSNAT_OUT/env.sh"; . "$REPO/tests/lib/guest.sh"
BYTES=300000
load_module
setup_topology
ip netns exec rtr iptables -t raw -A PREROUTING -i r0 -p tcp -j CT --notrack
ip netns exec rtr iptables -t raw -A PREROUTING -i r0 -p tcp -j SSNAT --to-source 198.51.100.7:4000
ip netns exec rtr iptables -t raw -A PREROUTING -i r1 -p tcp -j CT --notrack
ip netns exec rtr nft -f - <<NFT
table ip back {
	chain pre {
		type filter hook prerouting priority raw + 1;
		iif "r1" ip daddr 198.51.100.7 tcp dport 4000 ip daddr set $SND4 tcp dport set 5004
	}
}
NFT
ip -n rtr route add 198.51.100.7/32 via $SND4

capture_start rcv d0 100000 seg tcp --idle 3
rm -f "$W/srv.ready"
ip netns exec rcv $PKT tcp-server --bind $RCV4 --port 7000 --bytes $BYTES \
	--expect-peer 198.51.100.7 --ready "$W/srv.ready" >"$W/srv.log" 2>&1 &
srv=$!
for i in $(seq 300); do [ -f "$W/srv.ready" ] && break; sleep 0.1; done
ip netns exec snd $PKT tcp-client --bind $SND4 --sport 5004 --dst $RCV4 --port 7000 --bytes $BYTES ||
	fail "TCP client"
wait $srv || fail "TCP server: $(cat "$W/srv.log")"
cat "$W/srv.log"
capture_wait seg
$PKT check-stream --cap "$W/seg.cap" --src 198.51.100.7 --sport 4000 || fail "TCP segments at the receiver"
ip netns exec rtr cat /proc/net/xt_SSNAT
echo "PASS: $BYTES bytes of TCP from 198.51.100.7:4000 intact through SSNAT with offload on"
