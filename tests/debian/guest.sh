# Guest side of the Debian-kernel test: Debian's unmodified kernel, its own modules,
# Debian trixie as the root file system, and our module, extension and ssnatctl as
# `make install DESTDIR=<the tree>` put them there (nothing from the work tree).
# The module is autoloaded by the first `-j SSNAT` rule (iptables-nft, then again
# after rmmod through iptables-legacy), UDP is rewritten through a router and checked
# at the receiver, then a runtime profile is added, used, changed and removed.
. "$SSNAT_OUT/env.sh"; . "$REPO/tests/lib/guest.sh"
CTL=/usr/local/sbin/ssnatctl
N=20
loaded() { grep -q '^xt_SSNAT ' /proc/modules; }

[ "$(uname -r)" = "$KVER" ] || fail "running kernel $(uname -r), expected Debian's $KVER"
note "kernel $(cat /proc/version)"
note "iptables $(iptables --version)"
loaded && fail "xt_SSNAT loaded before any rule"
path=$(modinfo -n xt_SSNAT) || fail "modinfo xt_SSNAT: not in the installed module tree"
[ "$path" = "/lib/modules/$KVER/updates/xt_SSNAT.ko" ] || [ "$path" = "/usr/lib/modules/$KVER/updates/xt_SSNAT.ko" ] ||
	fail "xt_SSNAT found at $path, not in updates/"
[ -f "$XTLIBDIR/libxt_SSNAT.so" ] || fail "no $XTLIBDIR/libxt_SSNAT.so"
export XTABLES_LIBDIR=$XTLIBDIR
setup_topology

# udp_rewrite IPT TO SPORT: the rule through backend IPT autoloads the module; N
# datagrams leave the router from TO:SPORT with valid checksums, none tracked.
udp_rewrite() {
	local ipt=$1 to=$2 sport=$3
	IPT=$ipt
	rtr_ipt 4 -t raw -A PREROUTING -i r0 -p udp --dport 6000 -j CT --notrack
	rtr_ipt 4 -t raw -A PREROUTING -i r0 -p udp --dport 6000 -j SSNAT --to-source "$to:$sport" ||
		fail "$ipt: -j SSNAT refused: $(dmesg | grep -i ssnat | tail -n 3)"
	loaded || fail "$ipt: the rule did not autoload xt_SSNAT"
	rtr_ipt 4 -t raw -S PREROUTING | grep -q -- "-j SSNAT --to-source $to:$sport" || fail "$ipt: rule not listed back"
	capture_start rcv d0 $N rx udp
	send --src $SND4 --sport 5004 --dst $RCV4 --dport 6000 --count $N
	capture_wait rx
	check rx --proto udp --count $N --src "$to" --sport "$sport" --dport 6000
	[ "$(conntrack_count rtr)" = 0 ] || fail "$ipt: conntrack entries in the router"
	[ "$(counter rtr packets)" = $N ] || fail "$ipt: counters: $(ip netns exec rtr cat /proc/net/xt_SSNAT)"
	rtr_ipt 4 -t raw -F
	rmmod xt_SSNAT || fail "$ipt: rmmod xt_SSNAT"
}
udp_rewrite iptables-nft 198.51.100.7 4000
udp_rewrite iptables-legacy 198.51.100.9 4009

# IPv6 through ip6tables-nft.
IP6T=ip6tables-nft
rtr_ipt 6 -t raw -A PREROUTING -i r0 -p udp -j CT --notrack
rtr_ipt 6 -t raw -A PREROUTING -i r0 -p udp -j SSNAT --to-source "[2001:db8:99::7]:4000" || fail "ip6tables-nft -j SSNAT refused"
capture_start rcv d0 10 rx6 udp
send --family 6 --src $SND6 --sport 5004 --dst $RCV6 --dport 6000 --count 10
capture_wait rx6
check rx6 --proto udp --count 10 --src 2001:db8:99::7 --sport 4000 --dport 6000
rtr_ipt 6 -t raw -F

# Profiles over generic netlink.
R="ip netns exec rtr"
$CTL version | tee "$W/ver"
grep -qx "module $SSNAT_VERSION" "$W/ver" || fail "ssnatctl version does not show the module"
$R $CTL profile add moh --to-source 198.51.100.7:4000 || fail "profile add"
IPT=iptables-nft
rtr_ipt 4 -t raw -A PREROUTING -i r0 -p udp --dport 6000 -j CT --notrack
rtr_ipt 4 -t raw -A PREROUTING -i r0 -p udp --dport 6000 -j SSNAT --profile moh || fail "rule --profile moh refused"
capture_start rcv d0 $N p1 udp
send --src $SND4 --sport 5004 --dst $RCV4 --dport 6000 --count $N
capture_wait p1
check p1 --proto udp --count $N --src 198.51.100.7 --sport 4000 --dport 6000
$R $CTL profile set moh --to-source 198.51.100.8:4002 || fail "profile set"
capture_start rcv d0 $N p2 udp
send --src $SND4 --sport 5004 --dst $RCV4 --dport 6000 --count $N
capture_wait p2
check p2 --proto udp --count $N --src 198.51.100.8 --sport 4002 --dport 6000
$R $CTL profile show moh | tee "$W/show"
grep -q "packets $((2 * N)) " "$W/show" || fail "profile counters: $(cat "$W/show")"
rc=0
$R $CTL profile del moh >"$W/out" 2>&1 || rc=$?
[ $rc = 5 ] || fail "profile del while in use: exit $rc, expected 5: $(cat "$W/out")"
rtr_ipt 4 -t raw -F
$R $CTL profile del moh || fail "profile del"
rmmod xt_SSNAT || fail "rmmod"
echo "PASS: Debian $KVER: xt_SSNAT autoloaded from updates/ by iptables-nft and iptables-legacy ($(iptables --version | awk '{print $2}')), $N UDP datagrams rewritten with each, IPv6 too; profile add/set/show/del with ssnatctl"
