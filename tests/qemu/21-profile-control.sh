# seconds: 100 (about, on the release kernel: tests/run.sh starts the longest first)
# The profile control plane: ssnatctl against the real generic netlink family.
# Errors (missing module, bad input, exists, missing, in use, not permitted) with their
# exit codes; rules naming a missing profile refused; profiles of two namespaces
# independent (--netns); save | restore round trip; monitor following another
# process's changes; sysfs facts; unload with profiles present.
. "$SSNAT_OUT/env.sh"; . "$REPO/tests/lib/guest.sh"
CTL="$BIN/ssnatctl"

expect_code 3 "module not loaded" $CTL profile list
grep -q "modprobe xt_SSNAT" "$W/out" || fail "no hint to load the module"
load_module
[ "$(cat /sys/module/xt_SSNAT/parameters/abi_version)" = 1 ] || fail "sysfs abi_version"
[ "$(cat /sys/module/xt_SSNAT/parameters/max_profiles)" = 1024 ] || fail "sysfs max_profiles"
# Nothing in sysfs counts the namespaces' profiles (one namespace's business is not
# another's).
[ ! -e /sys/module/xt_SSNAT/parameters/profiles ] || fail "sysfs shows a count of all namespaces' profiles"
[ "$(cat /sys/module/xt_SSNAT/version)" = "$SSNAT_VERSION" ] || fail "sysfs version"
setup_topology
R="ip netns exec rtr"

# Bad input never reaches the kernel: usage errors.
expect_code 2 "reversed range" $R $CTL profile add bad --to-source 198.51.100.9-198.51.100.7
expect_code 2 "bad name" $R $CTL profile add "a b" --to-source 198.51.100.7
expect_code 2 "a seed without a mapping" $R $CTL profile add bad --random-seed 3

$R $CTL profile add moh --to-source 198.51.100.7:4000 || fail "add moh"
$R $CTL profile add range --to-source 198.51.100.10-198.51.100.20:4000-4999 --random-seed 7 || fail "add range"
$R $CTL profile add six --to-source 2001:db8:99::/64 || fail "add six"
[ "$($R $CTL profile list | grep -c .)" = 3 ] || fail "profile list: $($R $CTL profile list)"
expect_code 7 "add existing" $R $CTL profile add moh --to-source 198.51.100.8
expect_code 6 "set missing" $R $CTL profile set nosuch --to-source 198.51.100.8
expect_code 6 "del missing" $R $CTL profile del nosuch

# Rules: a missing profile is refused by checkentry, with a message in the log; an
# IPv6 profile cannot serve an IPv4 rule.
expect_fail "rule for a missing profile" rtr_ipt 4 -t raw -A PREROUTING -p udp -j SSNAT --profile nosuch
dmesg | grep -q 'SSNAT: profile "nosuch" does not exist' || fail "no kernel message for the missing profile"
expect_fail "IPv4 rule for an IPv6 profile" rtr_ipt 4 -t raw -A PREROUTING -j SSNAT --profile six
rtr_ipt 4 -t raw -A PREROUTING -p udp -j SSNAT --profile moh || fail "rule for moh"
rtr_ipt 6 -t mangle -A POSTROUTING -j SSNAT --profile six || fail "rule for six"
# The same through nft_compat: a second rule for moh, then gone again.
ip netns exec rtr iptables-nft -t mangle -A FORWARD -p tcp -j SSNAT --profile moh || fail "nft rule for moh"
ip netns exec rtr iptables-nft -t mangle -S FORWARD | grep -q -- "-j SSNAT --profile moh" || fail "nft rule not listed"
$R $CTL profile show moh --json | $PY -c 'import json,sys; assert json.load(sys.stdin)["profiles"][0]["rules"] == 2' ||
	fail "moh does not count the nft rule"
ip netns exec rtr iptables-nft -t mangle -F FORWARD
expect_fail "nft rule for a missing profile" ip netns exec rtr iptables-nft -t mangle -A FORWARD -j SSNAT --profile nosuch
expect_code 5 "del in use" $R $CTL profile del moh
$R $CTL profile show moh | tee "$W/show"
grep -q "198.51.100.7:4000" "$W/show" || fail "show: mapping"
$R $CTL profile show --json >"$W/show.json"
$PY - "$W/show.json" <<'PY' || fail "profile show --json: $(cat "$W/show.json")"
import json, sys
d = json.load(open(sys.argv[1]))
p = {x["name"]: x for x in d["profiles"]}
assert set(p) == {"moh", "range", "six"}, p
assert p["moh"]["rules"] == 1 and p["six"]["rules"] == 1 and p["range"]["rules"] == 0, p
assert p["moh"]["to_source"] == "198.51.100.7:4000", p["moh"]
assert p["range"]["seed"] == 7 and p["six"]["family"] == "ipv6", p
PY
$R $CTL profile list | sort | tr '\n' ' ' | grep -qx "moh range six " || fail "list: $($R $CTL profile list)"

# Not permitted without CAP_NET_ADMIN, and neither is reading (as with nft list, ipset
# list, conntrack -L).
expect_code 4 "unprivileged add" $R setpriv --reuid=65534 --regid=65534 --clear-groups \
	--inh-caps=-all --bounding-set=-all $CTL profile add x --to-source 198.51.100.9
grep -qi "CAP_NET_ADMIN" "$W/out" || fail "EPERM message does not name CAP_NET_ADMIN"
expect_code 4 "unprivileged list" $R setpriv --reuid=65534 --regid=65534 --clear-groups \
	--inh-caps=-all --bounding-set=-all $CTL profile list
grep -qi "CAP_NET_ADMIN" "$W/out" || fail "EPERM message of list does not name CAP_NET_ADMIN"
expect_code 4 "unprivileged show" $R setpriv --reuid=65534 --regid=65534 --clear-groups \
	--inh-caps=-all --bounding-set=-all $CTL profile show moh
# The same user owns a user namespace of its own, and with it the network namespace it
# creates there: it may manage that namespace's profiles, and sees only those.
setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all \
	unshare --user --map-root-user --net sh -c \
	"$CTL profile add mine --to-source 192.0.2.7 && $CTL profile list" >"$W/userns" 2>&1 ||
	fail "profile in an unprivileged user's own namespaces: $(cat "$W/userns")"
[ "$(cat "$W/userns")" = mine ] || fail "user namespace sees: $(cat "$W/userns")"

# A second namespace: same name, other mapping, independent (through --netns).
$CTL --netns rcv profile add moh --to-source 203.0.113.5 || fail "add in rcv"
$CTL --netns rcv profile show moh | grep -q 203.0.113.5 || fail "rcv's moh"
$CTL --netns rtr profile show moh | grep -q 198.51.100.7:4000 || fail "rtr's moh changed"
$CTL --netns rcv profile del moh || fail "del in rcv (unused there)"
$R $CTL profile show moh >/dev/null || fail "rtr's moh gone with rcv's"
expect_code 1 "--netns of a missing namespace" $CTL --netns nosuch profile list

# monitor: the changes of another process, in order.
$R $CTL monitor >"$W/mon" 2>&1 &
mon=$!
# Until the monitor has subscribed: probe changes, seen or not.
for i in $(seq 30); do
	$R $CTL profile add probe --to-source 192.0.2.9 && $R $CTL profile del probe
	sleep 0.5
	grep -q "^del probe" "$W/mon" && break
done
grep -q "^del probe" "$W/mon" || fail "monitor printed nothing: $(cat "$W/mon")"
$R $CTL profile add tmp --to-source 192.0.2.1:1000 || fail "add tmp"
$R $CTL profile set tmp --to-source 192.0.2.2:2000 || fail "set tmp"
$R $CTL profile del tmp || fail "del tmp"
for i in $(seq 40); do
	grep -q "^del tmp" "$W/mon" && break
	sleep 0.5
done
kill $mon
cat "$W/mon"
grep -v probe "$W/mon" | grep -n . | tr '\n' '|' |
	grep -Eq "^1:new tmp 192.0.2.1:1000\|2:set tmp 192.0.2.2:2000\|3:del tmp" ||
	fail "monitor did not print the three changes in order"

# save | restore: round trip, in the same namespace after deleting, and into another.
$R $CTL save >"$W/save1" || fail save
cat "$W/save1"
rtr_ipt 4 -t raw -F
rtr_ipt 6 -t mangle -F
for p in moh range six; do $R $CTL profile del $p || fail "del $p"; done
[ "$($R $CTL profile list | wc -l)" = 0 ] || fail "profiles left"
$R $CTL restore <"$W/save1" || fail restore
$R $CTL save >"$W/save2"
diff "$W/save1" "$W/save2" || fail "save | restore is not a round trip"
$R $CTL restore <"$W/save1" || fail "restore over existing profiles"
$CTL --netns rcv restore "$W/save1" || fail "restore into rcv"
$CTL --netns rcv save | diff "$W/save1" - || fail "restore into another namespace"
printf 'profile add ok --to-source 192.0.2.1\nprofile add bad --to-source 192.0.2.9-192.0.2.1\n' >"$W/bad"
expect_code 2 "restore of a bad line" $R $CTL restore "$W/bad"
grep -q "line 2" "$W/out" || fail "restore error does not name the line"

# Unload: refused while a rule uses the target; fine with profiles present.
rtr_ipt 4 -t raw -A PREROUTING -p udp -j SSNAT --profile moh
expect_fail "rmmod with a rule" rmmod xt_SSNAT
rtr_ipt 4 -t raw -F
rmmod xt_SSNAT || fail "rmmod with profiles present"
echo "PASS: profile control plane: exit codes, EPERM (and CAP_NET_ADMIN of a user namespace owner), checkentry, two namespaces, monitor, save|restore, unload"
