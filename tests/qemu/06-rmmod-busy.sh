# rmmod is refused while a rule uses SSNAT (legacy and nft), allowed once it is gone.
. "$SSNAT_OUT/env.sh"; . "$REPO/tests/lib/guest.sh"

load_module
for IPT in iptables-legacy iptables-nft; do
	$IPT -t mangle -A FORWARD -p udp -j SSNAT --to-source 198.51.100.7:4000 || fail "$IPT rule"
	[ "$(cat /sys/module/xt_SSNAT/refcnt)" -ge 1 ] || fail "$IPT: the rule holds no module reference"
	expect_fail "rmmod with an $IPT rule" rmmod xt_SSNAT
	grep -qi "in use" "$W/out" || fail "rmmod refused without saying the module is in use: $(cat "$W/out")"
	[ -e /sys/module/xt_SSNAT ] || fail "module gone while a rule uses it"
	$IPT -t mangle -D FORWARD -p udp -j SSNAT --to-source 198.51.100.7:4000 || fail "$IPT rule delete"
done
# nft_compat releases its reference when the table goes away, not only the rule.
nft delete table ip mangle 2>/dev/null || true
rmmod xt_SSNAT || fail "rmmod after the rules are gone (refcnt $(cat /sys/module/xt_SSNAT/refcnt))"
echo "PASS: rmmod refused while legacy and nft rules use SSNAT, allowed after"
