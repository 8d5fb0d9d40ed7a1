# The module loads, registers SSNAT for IPv4 and IPv6, and unloads cleanly.
. "$SSNAT_OUT/env.sh"; . "$REPO/tests/lib/guest.sh"

load_module
grep -qx SSNAT /proc/net/ip6_tables_targets || fail "SSNAT not registered for IPv6"
[ "$(cat /sys/module/xt_SSNAT/version)" = "$SSNAT_VERSION" ] ||
	fail "module version '$(cat /sys/module/xt_SSNAT/version)', expected '$SSNAT_VERSION'"
dmesg | grep -q "SSNAT target registered" || fail "no registration message in the kernel log"
rmmod xt_SSNAT || fail "rmmod with no rule"
[ ! -e /sys/module/xt_SSNAT ] || fail "module still present after rmmod"
! grep -qx SSNAT /proc/net/ip_tables_targets || fail "SSNAT still registered after rmmod"
# A second cycle: nothing left over from the first.
load_module
rmmod xt_SSNAT || fail "second rmmod"
echo "PASS: load, register IPv4+IPv6, version $SSNAT_VERSION, unload, twice"
