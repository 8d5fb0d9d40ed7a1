# seconds: 75 (about, on the release kernel: tests/run.sh starts the longest first)
# Address and port ranges: a thousand flows spread over the range, each flow always
# translated the same way (stateless: a hash of the flow picks), IPv4 and IPv6.
. "$SSNAT_OUT/env.sh"; . "$REPO/tests/lib/guest.sh"
FLOWS=1000
N=$((FLOWS * 2))
load_module
setup_topology
rtr_ipt 4 -t raw -A PREROUTING -i r0 -p udp -j CT --notrack
rtr_ipt 4 -t raw -A PREROUTING -i r0 -p udp -j SSNAT --to-source 198.51.100.10-198.51.100.29:4000-4999
capture_start rcv d0 $N rx udp
# Each flow: its own source address (10.0.1.2 + k) and port (5004 + k); two packets.
send --src $SND4 --src-flows --sport 5004 --dst $RCV4 --dport 6000 --count $N --flows $FLOWS
capture_wait rx
check rx --proto udp --count $N --flows $FLOWS --src-range 198.51.100.10-198.51.100.29 \
	--sport-range 4000-4999 --dport 6000 --stable-flows --spread
rtr_ipt 4 -t raw -F

rtr_ipt 6 -t raw -A PREROUTING -i r0 -p udp -j CT --notrack
rtr_ipt 6 -t raw -A PREROUTING -i r0 -p udp -j SSNAT \
	--to-source "[2001:db8:99::10]-[2001:db8:99::1f]:4000-4999" --random-seed 12345
capture_start rcv d0 $N rx6 udp
send --family 6 --src $SND6 --src-flows --sport 5004 --dst $RCV6 --dport 6000 --count $N --flows $FLOWS
capture_wait rx6
check rx6 --proto udp --count $N --flows $FLOWS --src-range 2001:db8:99::10-2001:db8:99::1f \
	--sport-range 4000-4999 --dport 6000 --stable-flows --spread
echo "PASS: $FLOWS flows over an IPv4 and an IPv6 range, each stable, spread evenly"
