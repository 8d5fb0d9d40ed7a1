# Malformed generic netlink requests made by hand (tests/lib/genl_raw.py): wrong sizes,
# missing and unknown attributes, attributes only the kernel sends, bad mappings, lying
# lengths. Each is refused with its errno and an extended-ack message; nothing is
# created; the family keeps working. A dump interrupted by a change is flagged.
. "$SSNAT_OUT/env.sh"; . "$REPO/tests/lib/guest.sh"
load_module
ip netns add ctl
ip netns exec ctl $PY "$REPO/tests/lib/genl_raw.py" || fail "a malformed request was not refused as expected"
[ -z "$(ip netns exec ctl $BIN/ssnatctl profile list)" ] || fail "profiles were created"
# A dump that spans several rounds tells its reader when profiles came or went
# meanwhile (NLM_F_DUMP_INTR), and ssnatctl's listing is whole.
ip netns exec ctl $PY "$REPO/tests/lib/genl_raw.py" dump-intr || fail "dump not flagged as interrupted"
[ -z "$(ip netns exec ctl $BIN/ssnatctl profile list)" ] || fail "profiles left after the dump test"
rmmod xt_SSNAT || fail rmmod
echo "PASS: malformed netlink requests refused by policy or handler with extended acks; nothing created; interrupted dumps flagged"
