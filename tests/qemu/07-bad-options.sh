# Bad options are refused by the extension, with a clear message, before the kernel.
. "$SSNAT_OUT/env.sh"; . "$REPO/tests/lib/guest.sh"

load_module
check_refused() { # EXPECTED-MESSAGE ARGS...
	local msg=$1
	shift
	expect_fail "iptables $*" iptables-legacy -t raw -A OUTPUT -p udp -j SSNAT "$@"
	rc=$(iptables-legacy -t raw -A OUTPUT -p udp -j SSNAT "$@" >/dev/null 2>&1; echo $?)
	[ "$rc" = 2 ] || fail "iptables $* exited $rc, expected 2 (parameter problem)"
	grep -qF -- "$msg" "$W/out" || fail "iptables $*: message '$(cat "$W/out")' lacks '$msg'"
	echo "refused: $* -> $(head -1 "$W/out")"
}
check_refused 'out of range' --to-source 198.51.100.7:0
check_refused 'out of range' --to-source 198.51.100.7:70000
check_refused 'bad address' --to-source 198.51.100
check_refused 'bad address' --to-source bogus
check_refused 'required'
check_refused 'unknown option' --bogus 1
iptables-legacy -j SSNAT -h >"$W/help" 2>&1 || true
grep -q -- "--to-source" "$W/help" || fail "help does not describe --to-source: $(cat "$W/help")"
[ -z "$(iptables-legacy-save -t raw | grep SSNAT)" ] || fail "a refused rule was added"
rmmod xt_SSNAT
echo "PASS: bad options refused by the extension with exit status 2"
