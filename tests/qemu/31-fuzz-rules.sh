# Fuzzes checkentry with random and mutated SSNAT target-info blobs through both rule
# ABIs (tests/lib/rulefuzz.py): IPT_SO_SET_REPLACE and IP6T_SO_SET_REPLACE in every
# chain of raw, mangle and filter and in nat, and nf_tables batches with an nft_compat
# target in tables made here at allowed and refused hooks. A model of the documented
# rules predicts each verdict (EINVAL, ENOENT for a missing profile, or accepted); each
# accepted rule is read back (kernel-private tail zero), and where a local datagram
# reaches it, rewrites that datagram as its blob says. Probes: an nft_compat rule in a
# regular chain of raw that raw's forward hook jumps to must be refused. The module's
# refusal messages must be rate-limited, and its rules and profile references all gone
# at the end.
# SSNAT_SCALE: check 1,000 blobs, soak 20,000, quick 300 (make check's run on the debug
# kernel).
. "$SSNAT_OUT/env.sh"; . "$REPO/tests/lib/guest.sh"
FUZZ="$PY -S $REPO/tests/lib/rulefuzz.py" # (-S: no site packages: starting is slow in the guest)
case ${SSNAT_SCALE:-check} in
soak) N=20000 WATCHDOG=14400 ;;
quick) N=300 WATCHDOG=600 ;;
*) N=1000 WATCHDOG=600 ;;
esac
SEED=${SSNAT_FUZZ_SEED:-$((RANDOM * 32768 + RANDOM))}
errors=()
load_module

# fz: where rules and datagrams meet (fz0 -> fzs, which only receives); fzn: the nat
# tables, whose conntrack would otherwise track fz's datagrams.
for ns in fz fzn fzs; do
	ip netns add $ns
	ip -n $ns link set lo up
done
ip link add fz0 netns fz address 02:55:00:00:99:01 type veth peer name fzs0 netns fzs address 02:55:00:00:99:02
ip -n fz addr add 10.99.0.1/24 dev fz0
ip -n fz addr add 2001:db8:99::1/64 dev fz0 nodad
ip -n fz link set fz0 up
ip -n fzs link set fzs0 up
ip -n fz neigh add 10.99.0.2 lladdr 02:55:00:00:99:02 dev fz0 nud permanent
ip -n fz -6 neigh add 2001:db8:99::2 lladdr 02:55:00:00:99:02 dev fz0 nud permanent
# nft tables as iptables-nft makes them (type filter, route for mangle OUTPUT), plus
# base chains at hooks a table does not allow, a regular chain, a table of another name.
tables() { # FAMILY...: the tables of fz
	local fam
	for fam in "$@"; do
		cat <<-NFT
			table $fam raw {
				chain PREROUTING { type filter hook prerouting priority -300; }
				chain OUTPUT { type filter hook output priority -300; }
				chain FWD { type filter hook forward priority -300; }
				chain IN { type filter hook input priority -300; }
				chain POST { type filter hook postrouting priority -300; }
				chain sub { }
			}
			table $fam mangle {
				chain PREROUTING { type filter hook prerouting priority -150; }
				chain INPUT { type filter hook input priority -150; }
				chain FORWARD { type filter hook forward priority -150; }
				chain OUTPUT { type route hook output priority -150; }
				chain POSTROUTING { type filter hook postrouting priority -150; }
			}
			table $fam filter {
				chain INPUT { type filter hook input priority 0; }
				chain FORWARD { type filter hook forward priority 0; }
				chain OUTPUT { type filter hook output priority 0; }
				chain PRE { type filter hook prerouting priority 0; }
				chain POST { type filter hook postrouting priority 0; }
			}
			table $fam foo {
				chain OUTPUT { type filter hook output priority 10; }
			}
		NFT
	done
}
nat_tables() { # FAMILY...: the tables of fzn
	local fam
	for fam in "$@"; do
		cat <<-NFT
			table $fam nat {
				chain PREROUTING { type nat hook prerouting priority -100; }
				chain INPUT { type nat hook input priority 100; }
				chain OUTPUT { type nat hook output priority -100; }
				chain POSTROUTING { type nat hook postrouting priority 100; }
			}
		NFT
	done
}
tables ip ip6 | ip netns exec fz nft -f - || fail "nft tables in fz"
nat_tables ip ip6 | ip netns exec fzn nft -f - || fail "nft tables in fzn"

note "set up in ${SECONDS}s; seed $SEED, $N blobs"
rc=0
# (The log is kept with the results: if the guest runs out of time, it shows how far.)
LOG=$SSNAT_OUT/rulefuzz.log
ip netns exec fz $FUZZ $N --seed $SEED --nat-netns fzn --iface fz0 --watchdog $WATCHDOG >"$LOG" 2>&1 || rc=$?
grep -v '^# [0-9]* blobs at' "$LOG"
summary=$(tail -n 1 "$LOG")
case "$summary" in blobs*) ;; *) fail "rulefuzz.py did not finish (status $rc)" ;; esac
[ $rc = 0 ] || errors+=("$(grep -c '^DISAGREE' "$LOG") disagreements between the model and the kernel (seed $SEED)")
set -- $summary
blobs=$2 accepted=$4 refused=$6 readback=${10} packets=${12}
[ "$blobs" -ge "$N" ] || errors+=("only $blobs blobs")
[ "$packets" -ge $((N / 8)) ] || errors+=("only $packets datagrams through accepted rules")

# Every rule gone (rulefuzz.py checked each step): no reference on the module is left.
for ns in fz fzn; do
	[ "$(ip netns exec $ns cat /proc/net/xt_SSNAT | wc -l)" = 1 ] || errors+=("rules left in $ns: $(ip netns exec $ns cat /proc/net/xt_SSNAT)")
done
note "fuzz done at ${SECONDS}s"
ip netns del fz
ip netns del fzn
ip netns del fzs
for i in $(seq 40); do
	rmmod xt_SSNAT 2>/dev/null && break
	sleep 0.5
done
grep -q '^xt_SSNAT ' /proc/modules && errors+=("rmmod xt_SSNAT failed after the fuzz (refcount $(cat /sys/module/xt_SSNAT/refcnt))")
note "module unloaded at ${SECONDS}s"
if [ ${#errors[@]} -gt 0 ]; then
	for e in "${errors[@]}"; do echo "error: $e"; done
	fail "${errors[0]}$([ ${#errors[@]} -gt 1 ] && echo " (and $((${#errors[@]} - 1)) more)")"
fi
echo "PASS: $blobs blobs through IPT_SO_SET_REPLACE and nft_compat: $accepted accepted, $refused refused as the model says; $readback read back with a zero tail; $packets datagrams rewritten as their blobs say; log rate-limited"
