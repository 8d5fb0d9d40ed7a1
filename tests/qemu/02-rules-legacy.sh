# Rules with iptables-legacy and ip6tables-legacy: added, listed, saved, restored;
# refused by the kernel outside raw/mangle/filter.
. "$SSNAT_OUT/env.sh"; . "$REPO/tests/lib/guest.sh"
IPT=${IPT:-iptables-legacy}
IP6T=${IP6T:-ip6tables-legacy}

load_module
$IPT -t raw -A PREROUTING -p udp --dport 5004 -j SSNAT --to-source 198.51.100.7:4000 ||
	fail "$IPT: adding a rule"
$IPT -t mangle -A POSTROUTING -p udp -j SSNAT --to-source 198.51.100.8 || fail "$IPT mangle rule"
$IP6T -t raw -A OUTPUT -p udp -j SSNAT --to-source "[2001:db8::7]:4000" || fail "$IP6T: adding a rule"

$IPT -t raw -L PREROUTING -n >"$W/list"
cat "$W/list"
grep -q "SSNAT.*to:198.51.100.7:4000" "$W/list" || fail "iptables -L does not show the mapping"

${IPT}-save -t raw >"$W/save4"
grep -q -- "-j SSNAT --to-source 198.51.100.7:4000" "$W/save4" || fail "iptables-save: $(cat "$W/save4")"
${IP6T}-save -t raw >"$W/save6"
grep -q -- "-j SSNAT --to-source \[2001:db8::7\]:4000" "$W/save6" || fail "ip6tables-save: $(cat "$W/save6")"

# save | restore round trip
$IPT -t raw -F
${IPT}-restore <"$W/save4" || fail "iptables-restore refused the saved rules"
${IPT}-save -t raw | grep -v '^#' >"$W/again4"
grep -v '^#' "$W/save4" | diff -u - "$W/again4" || fail "save/restore round trip changed the rules"
$IP6T -t raw -F
${IP6T}-restore <"$W/save6" || fail "ip6tables-restore refused the saved rules"

# Tables where a stateless rewrite makes no sense: the extension refuses them with the
# kernel's own words before anything is sent (test 09 sends such rules past the
# extension, to checkentry).
expect_fail "SSNAT in the nat table" $IPT -t nat -A POSTROUTING -p udp -j SSNAT --to-source 198.51.100.7
grep -q 'SSNAT: only valid in the raw, mangle and filter tables, not "nat"' "$W/out" ||
	fail "no message for the nat table: $(cat "$W/out")"
$IPT -t filter -N ssnat_chain
$IPT -t filter -A ssnat_chain -j SSNAT --to-source 198.51.100.7
$IPT -t filter -A INPUT -j ssnat_chain || fail "jump to SSNAT user chain from INPUT"

$IPT -t raw -F
$IPT -t mangle -F
$IPT -t filter -F
$IPT -t filter -X
$IP6T -t raw -F
rmmod xt_SSNAT || fail "rmmod after flushing"
echo "PASS: $IPT/$IP6T add, list, save, restore; nat table refused by the extension with the kernel's words"
