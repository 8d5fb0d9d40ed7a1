# An ICMP error that the translated host sends about a packet it received: the outer
# source and the quoted packet's destination (address and port) are translated the way
# the flow's own packets are, so the peer sees an error about the packet it sent.
. "$SSNAT_OUT/env.sh"; . "$REPO/tests/lib/guest.sh"
N=3
load_module
setup_topology
for fam in 4 6; do
	if [ $fam = 4 ]; then
		src=$SND4 dst=$RCV4 to=198.51.100.7 spec=198.51.100.7:4000 p=icmp
	else
		src=$SND6 dst=$RCV6 to=2001:db8:99::7 spec="[2001:db8:99::7]:4000" p=ipv6-icmp
	fi
	rtr_ipt $fam -t raw -A PREROUTING -i r0 -p $p -j CT --notrack
	rtr_ipt $fam -t raw -A PREROUTING -i r0 -p $p -j SSNAT --to-source "$spec"
	capture_start rcv d0 $N rx icmp-error
	send --family $fam --proto icmp-error --src $src --sport 5004 --dst $dst --dport 6000 --count $N
	capture_wait rx
	$PKT check-icmp-error --cap "$W/rx.cap" --count $N --src $to --sport 4000 || fail "ICMPv$fam errors"
done
echo "PASS: ICMP and ICMPv6 port unreachable translated with their quoted packet"
