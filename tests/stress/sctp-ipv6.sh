# Stress for the SCTP CRC32c path over IPv6 (not part of make check): 3 rounds of N
# packets (N below) through each backend; every CRC is checked at the receiver.
# Run: tests/run.sh --script tests/stress/sctp-ipv6.sh sctp-stress
. "$SSNAT_OUT/env.sh"; . "$REPO/tests/lib/guest.sh"
N=400
load_module
setup_topology
rcv_sink
for round in 1 2 3; do
for backend in legacy nft; do
	IPT=iptables-$backend IP6T=ip6tables-$backend
	rtr_ipt 6 -t raw -A PREROUTING -i r0 -p sctp -j CT --notrack
	rtr_ipt 6 -t raw -A PREROUTING -i r0 -p sctp -j SSNAT --to-source "[2001:db8:99::7]:4000"
	capture_start rcv d0 $N rx sctp
	send --family 6 --proto sctp --src $SND6 --sport 5004 --dst $RCV6 --dport 6000 --count $N >/dev/null
	capture_wait rx
	check rx --proto sctp --count $N --src 2001:db8:99::7 --sport 4000 --dport 6000
	rtr_ipt 6 -t raw -F
done
done
echo "PASS: 3 rounds of $N IPv6 SCTP packets per backend, every CRC32c valid"
