# Packets SSNAT cannot handle pass unchanged and are counted by reason: a UDP length
# that lies, an IPv6 extension header chain longer than what SSNAT reads.
. "$SSNAT_OUT/env.sh"; . "$REPO/tests/lib/guest.sh"
load_module
setup_topology noct
rtr_ipt 4 -t mangle -A FORWARD -i r0 -p udp -j SSNAT --to-source 198.51.100.7:4000
rtr_ipt 6 -t mangle -A FORWARD -i r0 -j SSNAT --to-source 2001:db8:99::7
capture_start rcv d0 3 rx udp
send --src $SND4 --dst $RCV4 --count 3 --lie udp-len
capture_wait rx
$PKT show --cap "$W/rx.cap" --label lying
$PY - "$W/rx.cap" <<'PY' || fail "a lying packet was changed"
import json, sys
caps = json.load(open(sys.argv[1]))
assert len(caps) == 3, len(caps)
for c in caps:
    p = bytes.fromhex(c["pkt"])
    assert p[12:16] == bytes([10, 0, 1, 2]) and p[20:22] == (5004).to_bytes(2, "big"), p[12:22]
PY
[ "$(counter rtr malformed)" = 3 ] || fail "malformed counter $(counter rtr malformed), expected 3"
# IPv6 with a 328-byte destination options header before UDP.
ip netns exec snd $PY -c "
import socket, struct, sys
sys.path.insert(0, '$REPO/tests/lib')
import ssnat_pkt as P
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW); s.bind(('s0', 0))
eth = P.mac_bytes('$RTR_MAC') + s.getsockname()[4] + struct.pack('!H', P.ETH_P_IPV6)
src, dst = P.addr_bytes('$SND6'), P.addr_bytes('$RCV6')
udp = P.build_l4(6, 17, src, dst, 5004, 6000, P.payload(0, 64))
opts = bytes([17, 40, 1, 0]) + bytes(40 * 8 + 4)   # PadN over 328 bytes
pkt = P.ip_header(6, 60, src, dst, len(opts) + len(udp)) + opts + udp
s.send(eth + pkt)
"
sleep 1
ip netns exec rtr cat /proc/net/xt_SSNAT
[ "$(counter rtr header-chain)" = 1 ] || fail "header-chain counter $(counter rtr header-chain), expected 1"
echo "PASS: lying UDP length and a long IPv6 header chain pass unchanged, counted by reason"
