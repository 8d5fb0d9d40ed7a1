# One-to-one prefix mapping (host bits kept), IPv4 and IPv6, in mangle FORWARD.
. "$SSNAT_OUT/env.sh"; . "$REPO/tests/lib/guest.sh"
N=20
load_module
setup_topology
rtr_ipt 4 -t mangle -A FORWARD -i r0 -p udp -j SSNAT --to-source 192.0.2.0/24
capture_start rcv d0 $N rx udp
send --src $SND4 --src-flows --dst $RCV4 --count $N --flows $N
capture_wait rx
check rx --proto udp --count $N --flows $N --src-prefix 192.0.2.0/24 --dport 6000 --sport-range 5004-5023
$PY - "$W/rx.cap" <<'PY' || fail "host bits not kept"
import json, sys
for c in json.load(open(sys.argv[1])):
    p = bytes.fromhex(c["pkt"])
    seq = int(p[28 + 6:28 + 12])
    # sent from 10.0.1.(2 + flow): the host byte must be kept
    assert p[15] == 2 + seq % 20, (p[12:16], seq)
PY
rtr_ipt 6 -t mangle -A FORWARD -i r0 -p udp -j SSNAT --to-source 2001:db8:99::/64
capture_start rcv d0 $N rx6 udp
send --family 6 --src $SND6 --src-flows --dst $RCV6 --count $N --flows $N
capture_wait rx6
check rx6 --proto udp --count $N --flows $N --src-prefix 2001:db8:99::/64 --dport 6000
echo "PASS: prefix mapping 10.0.1.0/24 -> 192.0.2.0/24 and 2001:db8:1::/64 -> 2001:db8:99::/64, host bits kept"
