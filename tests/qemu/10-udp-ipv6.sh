# IPv6 UDP through the router, with both backends: new source address and port, a
# valid UDP checksum (IPv6 has no zero checksum), payload intact.
. "$SSNAT_OUT/env.sh"; . "$REPO/tests/lib/guest.sh"
N=10
load_module
setup_topology
for IPT6 in ip6tables-legacy ip6tables-nft; do
	IP6T=$IPT6
	rtr_ipt 6 -t raw -A PREROUTING -i r0 -p udp -j CT --notrack
	rtr_ipt 6 -t raw -A PREROUTING -i r0 -p udp -j SSNAT --to-source "[2001:db8:99::7]:4000"
	capture_start rcv d0 $N rx6 udp
	send --family 6 --src $SND6 --sport 5004 --dst $RCV6 --dport 6000 --count $N
	capture_wait rx6
	check rx6 --proto udp --count $N --src 2001:db8:99::7 --sport 4000 --dport 6000
	rtr_ipt 6 -t raw -F
done
[ "$(conntrack_count rtr)" = 0 ] || fail "conntrack entries in the router"
echo "PASS: IPv6 UDP rewritten to [2001:db8:99::7]:4000 with ip6tables-legacy and ip6tables-nft"
