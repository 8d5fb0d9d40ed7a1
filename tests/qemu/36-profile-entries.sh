# seconds: 90 (about, on the release kernel: tests/run.sh starts the longest first)
# A profile's entries: per-destination mappings. Packets to a destination with an entry
# leave with the entry's translation, others with the profile's own mapping or, for an
# entries-only profile, unchanged and counted no-entry; per-entry counters; set, del,
# flush; the control plane's errors (exists, missing, wrong family, port rules,
# max_entries, unprivileged); IPv6; save/restore and monitor with entries; 10,000
# entries (200 at SSNAT_SCALE=quick) listed in full; deleting a profile with entries
# frees them (kmemleak, on the debug kernel).
. "$SSNAT_OUT/env.sh"; . "$REPO/tests/lib/guest.sh"
CTL="$BIN/ssnatctl"
R="ip netns exec rtr"
# entry_field PROFILE DPORT FIELD: a field of the entry for $RCV4:DPORT (entry list --json).
entry_field() {
	$R $CTL profile entry list "$1" --json | $PY -c '
import json, sys
port, field = int(sys.argv[1]), sys.argv[2]
for e in json.load(sys.stdin)["entries"]:
    if e["dport"] == port:
        v = e
        for k in field.split("."):
            v = v[k]
        print(v)
        break
else:
    print("none")' "$2" "$3"
}
# stat PROFILE COUNTER: a counter of the profile (stats --json).
stat() {
	$R $CTL stats "$1" --json | $PY -c 'import json,sys; print(json.load(sys.stdin)["profiles"][0]["counters"][sys.argv[1]])' "$2"
}
# burst DPORT NAME [COUNT]: COUNT (3) datagrams $SND4:5004 -> $RCV4:DPORT, captured as NAME.
burst() {
	local n=${3:-3}
	capture_start rcv d0 "$n" "$2" udp
	send --src $SND4 --sport 5004 --dst $RCV4 --dport "$1" --count "$n" --size 100 >/dev/null
	capture_wait "$2" >/dev/null
}

load_module
setup_topology
$R $CTL profile add moh || fail "profile add (entries only)"
$R $CTL profile show moh | tee "$W/show"
rtr_ipt 4 -t raw -A PREROUTING -i r0 -p udp --dport 6000:6100 -j CT --notrack
rtr_ipt 4 -t raw -A PREROUTING -i r0 -p udp --dport 6000:6100 -j SSNAT --profile moh

# Packets to a destination without an entry pass unchanged, counted no-entry.
burst 6001 none
check none --size 100 --proto udp --count 3 --src $SND4 --sport 5004 --dport 6001
[ "$(stat moh no-entry)" = 3 ] || fail "no-entry: $(stat moh no-entry)"

$R $CTL profile entry add moh $RCV4:6001 --to-source 198.51.100.7:10002 || fail "entry add 6001"
$R $CTL profile entry add moh $RCV4:6002 --to-source 198.51.100.7:10004 || fail "entry add 6002"
$R $CTL profile entry add moh $RCV4:6003 --to-ports 10006 || fail "entry add 6003 (port only)"
$R $CTL profile entry list moh | tee "$W/list"
[ "$(grep -c 198.51.100.7 "$W/list")" = 2 ] || fail "entry list"
burst 6001 e1
check e1 --size 100 --proto udp --count 3 --src 198.51.100.7 --sport 10002 --dport 6001
burst 6002 e2
check e2 --size 100 --proto udp --count 3 --src 198.51.100.7 --sport 10004 --dport 6002
burst 6003 e3
check e3 --size 100 --proto udp --count 3 --src $SND4 --sport 10006 --dport 6003
burst 6004 e4
check e4 --size 100 --proto udp --count 3 --src $SND4 --sport 5004 --dport 6004
[ "$(entry_field moh 6001 counters.packets)" = 3 ] || fail "entry 6001 packets: $(entry_field moh 6001 counters.packets)"
[ "$(entry_field moh 6001 counters.bytes)" -gt 0 ] || fail "entry 6001 bytes"
[ "$(stat moh packets)" = 9 ] || fail "profile packets: $(stat moh packets)"
[ "$(stat moh no-entry)" = 6 ] || fail "no-entry after: $(stat moh no-entry)"

# set replaces the mapping and keeps the counters; del removes the entry.
$R $CTL profile entry set moh $RCV4:6001 --to-source 198.51.100.8:20002 || fail "entry set"
burst 6001 s1
check s1 --size 100 --proto udp --count 3 --src 198.51.100.8 --sport 20002 --dport 6001
[ "$(entry_field moh 6001 counters.packets)" = 6 ] || fail "counters not kept by set"
$R $CTL profile entry del moh $RCV4:6002 || fail "entry del"
burst 6002 d2
check d2 --size 100 --proto udp --count 3 --src $SND4 --sport 5004 --dport 6002

# A profile mapping of its own: packets without an entry get it, entries still win.
$R $CTL profile set moh --to-source 198.51.100.9:4000 || fail "profile set with entries"
burst 6004 own
check own --size 100 --proto udp --count 3 --src 198.51.100.9 --sport 4000 --dport 6004
burst 6001 s1b
check s1b --size 100 --proto udp --count 3 --src 198.51.100.8 --sport 20002 --dport 6001

echo "[${SECONDS}s] errors"
# Errors.
expect_code 7 "entry add existing" $R $CTL profile entry add moh $RCV4:6001 --to-source 198.51.100.7:1
grep -q "entry exists" "$W/out" || fail "EEXIST message"
expect_code 6 "entry set missing" $R $CTL profile entry set moh $RCV4:6099 --to-source 198.51.100.7:1
expect_code 6 "entry del missing" $R $CTL profile entry del moh $RCV4:6099
expect_code 6 "entry add, missing profile" $R $CTL profile entry add nosuch $RCV4:6001 --to-source 198.51.100.7:1
expect_code 2 "entry without port" $R $CTL profile entry add moh $RCV4 --to-source 198.51.100.7:1
expect_fail "IPv6 entry in an IPv4 profile" $R $CTL profile entry add moh "[$RCV6]:6001" --to-source 198.51.100.7:1
expect_fail "IPv6 mapping in an IPv4 profile" $R $CTL profile entry add moh $RCV4:6050 --to-source 2001:db8::1
expect_fail "profile family change with entries" $R $CTL profile set moh --to-source 2001:db8::1
grep -q "entry flush moh" "$W/out" || fail "family change message: $(cat "$W/out")"
expect_code 4 "unprivileged entry add" $R setpriv --reuid=65534 --regid=65534 --clear-groups \
	--inh-caps=-all --bounding-set=-all $CTL profile entry add moh $RCV4:6060 --to-source 198.51.100.7:1
expect_code 4 "unprivileged entry list" $R setpriv --reuid=65534 --regid=65534 --clear-groups \
	--inh-caps=-all --bounding-set=-all $CTL profile entry list moh
[ "$(cat /sys/module/xt_SSNAT/parameters/max_entries)" = 262144 ] || fail "sysfs max_entries"
n=$($R $CTL profile entry list moh --json | $PY -c 'import json,sys; print(len(json.load(sys.stdin)["entries"]))')
echo $n >/sys/module/xt_SSNAT/parameters/max_entries
expect_code 1 "entry past max_entries" $R $CTL profile entry add moh $RCV4:6070 --to-source 198.51.100.7:1
grep -q "max_entries" "$W/out" || fail "ENOSPC message does not name max_entries"
echo 262144 >/sys/module/xt_SSNAT/parameters/max_entries

echo "[${SECONDS}s] monitor, save and restore"
# monitor sees entry changes; save | restore keeps them.
$R $CTL monitor >"$W/monitor" 2>&1 &
mon=$!
sleep 1
$R $CTL profile entry add moh $RCV4:6080 --to-source 198.51.100.7:10080 || fail "entry add (monitored)"
$R $CTL profile entry del moh $RCV4:6080 || fail "entry del (monitored)"
sleep 1
kill $mon
cat "$W/monitor"
grep -q "6080" "$W/monitor" || fail "monitor did not show the entry changes"
$R $CTL save >"$W/saved"
cat "$W/saved"
$R $CTL profile entry flush moh || fail "entry flush"
[ "$(entry_field moh 6001 dport)" = none ] || fail "flush left entries"
$R $CTL restore <"$W/saved" || fail "restore"
$R $CTL save >"$W/saved2"
diff "$W/saved" "$W/saved2" || fail "save | restore | save differs"
burst 6001 r1
check r1 --size 100 --proto udp --count 3 --src 198.51.100.8 --sport 20002 --dport 6001

echo "[${SECONDS}s] IPv6"
# IPv6.
$R $CTL profile add moh6 -6 || fail "IPv6 entries-only profile"
rtr_ipt 6 -t raw -A PREROUTING -i r0 -p udp --dport 6000:6100 -j CT --notrack
rtr_ipt 6 -t raw -A PREROUTING -i r0 -p udp --dport 6000:6100 -j SSNAT --profile moh6
$R $CTL profile entry add moh6 "[$RCV6]:6001" --to-source "[2001:db8:99::7]:10002" || fail "IPv6 entry add"
capture_start rcv d0 3 v6 udp
send --family 6 --src $SND6 --sport 5004 --dst $RCV6 --dport 6001 --count 3 --size 100 >/dev/null
capture_wait v6 >/dev/null
check v6 --size 100 --proto udp --count 3 --src 2001:db8:99::7 --sport 10002 --dport 6001

echo "[${SECONDS}s] many entries"
# Many entries by restore, all listed: 10,000 (on the debug kernel, SSNAT_SCALE=quick,
# 200, enough for the table to grow a few times: there a restore of 10,000 took most of
# 27 minutes).
MANY=10000
[ "${SSNAT_SCALE:-check}" != quick ] || MANY=200
{
	for i in $(seq 0 $((MANY - 1))); do
		echo "profile entry add moh 203.0.$((i / 250)).$((i % 250 + 1)):$((10000 + i)) --to-source 198.51.100.7:$((20000 + i))"
	done
} >"$W/many"
$R $CTL restore <"$W/many" || fail "restore of $MANY entries"
got=$($R $CTL profile entry list moh | grep -c '203\.0\.')
[ "$got" = $MANY ] || fail "entry list shows $got of $MANY entries"
burst 6001 many
check many --size 100 --proto udp --count 3 --src 198.51.100.8 --sport 20002 --dport 6001

echo "[${SECONDS}s] deletion"
# A profile with entries is deleted with them once no rule uses it.
rtr_ipt 4 -t raw -F PREROUTING
rtr_ipt 6 -t raw -F PREROUTING
$R $CTL profile del moh || fail "profile del with entries"
$R $CTL profile del moh6 || fail "profile del moh6"
echo "PASS: profile entries"
