# Malformed generic netlink requests made by hand (tests/lib/genl_raw.py): wrong sizes,
# missing and unknown attributes, attributes only the kernel sends, bad mappings, lying
# lengths. Each is refused with its errno and an extended-ack message; nothing is
# created; the family keeps working.
. "$SSNAT_OUT/env.sh"; . "$REPO/tests/lib/guest.sh"
load_module
ip netns add ctl
ip netns exec ctl $PY "$REPO/tests/lib/genl_raw.py" || fail "a malformed request was not refused as expected"
[ "$(cat /sys/module/xt_SSNAT/parameters/profiles)" = 0 ] || fail "profiles were created"
rmmod xt_SSNAT || fail rmmod
echo "PASS: malformed netlink requests refused by policy or handler with extended acks; nothing created"
