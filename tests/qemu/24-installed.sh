# install: yes
# seconds: 60 (about, on the release kernel: tests/run.sh starts the longest first)
# The UDP rewrite using only installed files: what `make install DESTDIR=$SSNAT_OUT/root`
# put there (tests/run.sh does it before the boot) is where modprobe and iptables look
# (the installed module tree over /lib/modules, XTABLES_LIBDIR at the installed
# extension, the installed ssnatctl). The first -j SSNAT rule autoloads the module
# through its ipt_SSNAT alias in the installed modules.alias, with iptables-nft, then
# again after rmmod with iptables-legacy.
. "$SSNAT_OUT/env.sh"; . "$REPO/tests/lib/guest.sh"
N=20
I=$INSTALL_ROOT
rel=$(uname -r)
CTL=$I/usr/local/sbin/ssnatctl
loaded() { grep -q '^xt_SSNAT ' /proc/modules; }

[ -f "$I/lib/modules/$rel/updates/xt_SSNAT.ko" ] || fail "no installed module for $rel: $(cd "$I" && find . -name '*.ko')"
grep -q 'alias ipt_SSNAT xt_SSNAT' "$I/lib/modules/$rel/modules.alias" || fail "installed modules.alias has no ipt_SSNAT"
# The kernel's request_module() runs modprobe, which reads /lib/modules/$(uname -r).
mkdir -p /lib/modules 2>/dev/null || true
mount --bind "$I/lib/modules" /lib/modules || fail "cannot mount the installed module tree on /lib/modules"
trap 'umount /lib/modules' EXIT # (the next test in this guest loads the built module)
[ "$(modinfo -n xt_SSNAT)" = "/lib/modules/$rel/updates/xt_SSNAT.ko" ] || fail "modinfo -n xt_SSNAT: $(modinfo -n xt_SSNAT 2>&1)"
# The installed extension first (the system's xtlibdir only for the stock matches and CT).
export XTABLES_LIBDIR=$I$XTLIBDIR:$XTLIBDIR
cmp -s "$I$XTLIBDIR/libxt_SSNAT.so" "$BIN/libxt_SSNAT.so" || fail "the installed extension is not the built one"
loaded && fail "xt_SSNAT loaded before any rule"
setup_topology

for IPT in iptables-nft iptables-legacy; do
	rtr_ipt 4 -t raw -A PREROUTING -i r0 -p udp --dport 6000 -j CT --notrack
	rtr_ipt 4 -t raw -A PREROUTING -i r0 -p udp --dport 6000 -j SSNAT --to-source 198.51.100.7:4000 ||
		fail "$IPT: -j SSNAT refused"
	loaded || fail "$IPT: the rule did not autoload xt_SSNAT"
	capture_start rcv d0 $N rx udp
	send --src $SND4 --sport 5004 --dst $RCV4 --dport 6000 --count $N
	capture_wait rx
	check rx --proto udp --count $N --src 198.51.100.7 --sport 4000 --dport 6000
	[ "$(counter rtr packets)" = $N ] || fail "$IPT: counters: $(ip netns exec rtr cat /proc/net/xt_SSNAT)"
	$CTL version | grep -qx "module $SSNAT_VERSION" || fail "installed ssnatctl version: $($CTL version 2>&1)"
	rtr_ipt 4 -t raw -F
	rmmod xt_SSNAT || fail "$IPT: rmmod"
done
[ "$(conntrack_count rtr)" = 0 ] || fail "conntrack entries in the router"
echo "PASS: installed files only: xt_SSNAT autoloaded from $I/lib/modules/$rel/updates by iptables-nft and iptables-legacy, $N packets rewritten with each; installed ssnatctl sees the module"
