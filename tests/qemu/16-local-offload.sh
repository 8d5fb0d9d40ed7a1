# seconds: 80 (about, on the release kernel: tests/run.sh starts the longest first)
# Locally generated UDP (a socket in the sender), SSNAT in the sender's raw OUTPUT,
# checksum offload on: packets leave with CHECKSUM_PARTIAL and the right pseudo-header
# sum; with offload off on the router's egress the stack finishes the checksum and the
# receiver checks it in full. IPv4 and IPv6.
. "$SSNAT_OUT/env.sh"; . "$REPO/tests/lib/guest.sh"
N=10
load_module
setup_topology
ip netns exec snd iptables -t raw -A OUTPUT -p udp --dport 6000 -j SSNAT --to-source 198.51.100.7:4000
ip netns exec snd ip6tables -t raw -A OUTPUT -p udp --dport 6000 -j SSNAT --to-source "[2001:db8:99::7]:4000"
ip -n rcv route add 198.51.100.0/24 via $RTR4B
ip -n rcv -6 route add 2001:db8:99::/64 via $RTR6B
sendsock() { # FAMILY DST
	ip netns exec snd $PY - "$1" "$2" "$N" <<'PY'
import socket, sys
fam = socket.AF_INET if sys.argv[1] == "4" else socket.AF_INET6
s = socket.socket(fam, socket.SOCK_DGRAM)
for i in range(int(sys.argv[3])):
    head = b"ssnat %06d " % i
    s.sendto(head + bytes((i + k) & 0xFF for k in range(64 - len(head))), (sys.argv[2], 6000))
PY
}
for offload in on off; do
	if [ $offload = off ]; then
		ethtool -h >/dev/null 2>&1 || fail "ethtool missing"
		ip netns exec rtr ethtool -K r1 tx off >/dev/null
	fi
	capture_start rcv d0 $N rx udp
	sendsock 4 $RCV4
	capture_wait rx
	check rx --proto udp --count $N --src 198.51.100.7 --sport 4000 --dport 6000 | sed "s/^/tx $offload: /"
	capture_start rcv d0 $N rx6 udp
	sendsock 6 $RCV6
	capture_wait rx6
	check rx6 --proto udp --count $N --src 2001:db8:99::7 --sport 4000 --dport 6000 | sed "s/^/tx $offload: /"
done
echo "PASS: locally generated UDP with offload on and off, IPv4 and IPv6"
