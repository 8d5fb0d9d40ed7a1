# A packet conntrack already tracks is still rewritten (SSNAT is stateless) but
# counted as "tracked", so users can tell that their NOTRACK rule is missing.
. "$SSNAT_OUT/env.sh"; . "$REPO/tests/lib/guest.sh"
N=5
load_module
setup_topology
rtr_ipt 4 -t mangle -A POSTROUTING -o r1 -p udp -j SSNAT --to-source 198.51.100.7:4000
capture_start rcv d0 $N rx udp
send --src $SND4 --dst $RCV4 --count $N
capture_wait rx
check rx --proto udp --count $N --src 198.51.100.7 --sport 4000 --dport 6000
ip netns exec rtr cat /proc/net/xt_SSNAT
[ "$(counter rtr tracked)" = $N ] || fail "tracked counter $(counter rtr tracked), expected $N"
[ "$(conntrack_count rtr)" -ge 1 ] || fail "conntrack did not track the flow"
echo "PASS: tracked packets rewritten and counted as tracked ($N)"
