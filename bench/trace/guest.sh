# The guest half of bench/trace.sh: a router namespace with one rule (SSNAT, or any
# target given), then one UDP datagram through it while the host's gdb single-steps
# the target function. Results and handshake files in $OUT (the host's --rwdir).
# snd -- r0 [rtr] r1 -- rcv: the router forwards the datagram to rcv, which drops it.
set -eu
OUT=$1 KO=$2 XT=$3
shift 3
exec >"$OUT/guest.log" 2>&1
trap '[ -e "$OUT/ready" ] || touch "$OUT/failed"' EXIT
set -x
export XTABLES_LIBDIR=$XT:$(pkg-config --variable=xtlibdir xtables)
insmod "$KO"
ip netns add rtr
ip netns add snd
ip link add s0 netns snd type veth peer name r0 netns rtr
ip netns add rcv
ip link add r1 netns rtr type veth peer name d0 netns rcv
ip -n rcv link set d0 up
ip -n snd addr add 10.0.0.2/24 dev s0
ip -n snd link set s0 up
ip -n snd route add default via 10.0.0.1
ip -n rtr addr add 10.0.0.1/24 dev r0
ip -n rtr link set r0 up
ip -n rtr addr add 10.1.0.1/24 dev r1
ip -n rtr link set r1 up
ip netns exec rtr sysctl -qw net.ipv4.ip_forward=1
# The UDP checksum complete in the bytes, as from a NIC (not CHECKSUM_PARTIAL).
ip netns exec snd ethtool -K s0 tx off >/dev/null
ip netns exec rtr iptables-legacy -t raw -A PREROUTING -i r0 -p udp -j CT --notrack
ip netns exec rtr iptables-legacy -t raw -A PREROUTING -i r0 -p udp -j "$@"
# Two datagrams first: ARP, the route and the target's first use are not traced.
for i in 1 2; do ip netns exec snd bash -c 'echo warm >/dev/udp/10.1.0.9/6000'; done
cat /sys/module/xt_SSNAT/sections/.text >"$OUT/text"
echo 0 >/proc/sys/kernel/kptr_restrict
cat /proc/kallsyms >"$OUT/kallsyms"
touch "$OUT/ready"
for i in $(seq 1200); do [ -e "$OUT/go" ] && break; sleep 0.1; done
ip netns exec snd bash -c 'echo traced >/dev/udp/10.1.0.9/6000'
for i in $(seq 1200); do [ -e "$OUT/traced" ] && break; sleep 0.1; done
ip netns exec rtr iptables-legacy -t raw -L PREROUTING -v -n -x
touch "$OUT/done"
