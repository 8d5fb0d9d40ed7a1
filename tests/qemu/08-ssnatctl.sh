# ssnatctl version/status against the real module and real rules of both backends.
. "$SSNAT_OUT/env.sh"; . "$REPO/tests/lib/guest.sh"
CTL=$BIN/ssnatctl
$CTL status | tee "$W/st0"
grep -q "not loaded" "$W/st0" || fail "status before insmod: $(cat "$W/st0")"
load_module
iptables-legacy -t raw -A PREROUTING -p udp -j SSNAT --to-source 198.51.100.7:4000
ip6tables-nft -t mangle -A FORWARD -p udp -j SSNAT --to-source "[2001:db8::7]:4000"
$CTL version | tee "$W/ver"
grep -qx "module $SSNAT_VERSION" "$W/ver" || fail "ssnatctl version does not show the module's version"
$CTL status | tee "$W/st"
grep -q "module xt_SSNAT live version $SSNAT_VERSION" "$W/st" || fail "status: module line"
grep -q "target SSNAT ipv4 yes ipv6 yes" "$W/st" || fail "status: target line"
grep -q "rule legacy ipv4 raw .*--to-source 198.51.100.7:4000" "$W/st" || fail "status: legacy rule"
grep -q "rule nft ipv6 mangle .*--to-source \[2001:db8::7\]:4000" "$W/st" || fail "status: nft rule"
$CTL status --json >"$W/st.json"
$PY -c "
import json, sys
d = json.load(open('$W/st.json'))
assert d['module']['loaded'] and d['module']['version'] == '$SSNAT_VERSION', d['module']
assert len(d['rules']) == 2, d['rules']
" || fail "status --json: $(cat "$W/st.json")"
echo "PASS: ssnatctl version and status (text and JSON) with the module and two rules"
