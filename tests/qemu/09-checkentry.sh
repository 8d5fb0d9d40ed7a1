# The kernel's checkentry refuses a bad blob on its own: rules made by hand through
# libiptc, without the extension's checks, are refused with EINVAL and a kernel log
# line naming the problem; a good one is accepted.
. "$SSNAT_OUT/env.sh"; . "$REPO/tests/lib/guest.sh"
RAW="$PY $REPO/tests/lib/iptc_raw.py"
load_module
refused() { # MESSAGE ARGS...
	local msg=$1
	shift
	dmesg -C
	if $RAW "$@" >"$W/out" 2>&1; then
		fail "kernel accepted: $*"
	fi
	grep -q "Invalid argument" "$W/out" || fail "not EINVAL: $(cat "$W/out")"
	dmesg | grep -qF "SSNAT: $msg" || fail "no kernel message '$msg': $(dmesg | tail -n 3)"
	echo "refused by checkentry: $* -> $(dmesg | grep -o 'SSNAT: .*' | tail -n1)"
}
$RAW raw PREROUTING 17 0x3 198.51.100.7 198.51.100.7 4000 4000 || fail "a good hand-made rule was refused"
iptables-legacy-save -t raw | grep -q -- "-j SSNAT --to-source 198.51.100.7:4000" || fail "hand-made rule not listed"
iptables-legacy -t raw -F
refused "bad address range" raw PREROUTING 17 0x1 10.0.0.9 10.0.0.1 0 0
refused "bad port range" raw PREROUTING 17 0x3 10.0.0.1 10.0.0.1 5000 4000
refused "bad port range" raw PREROUTING 17 0x3 10.0.0.1 10.0.0.1 0 0
refused "a port needs -p" raw PREROUTING 47 0x3 10.0.0.1 10.0.0.1 4000 4000
refused "a port needs -p" raw PREROUTING 0 0x2 0.0.0.0 0.0.0.0 4000 4000
refused "bad prefix" raw PREROUTING 17 0x5 10.1.2.0 10.1.255.255 0 0 16
refused "unknown flags" raw PREROUTING 17 0x81 10.0.0.1 10.0.0.1 0 0
refused "no address or port" raw PREROUTING 17 0x0 0.0.0.0 0.0.0.0 0 0
refused "only valid in the raw, mangle and filter tables" nat POSTROUTING 17 0x1 10.0.0.1 10.0.0.1 0 0
[ -z "$(iptables-legacy-save | grep SSNAT)" ] || fail "a refused rule is in the ruleset"
rmmod xt_SSNAT || fail "rmmod"
echo "PASS: checkentry refuses bad blobs made without the extension (EINVAL, logged), accepts a good one"
