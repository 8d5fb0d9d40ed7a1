# Fuzzes the SSNAT generic netlink family (tests/lib/genlfuzz.py): random commands,
# attribute types, lengths, nesting, flags, truncated, lying, oversized and batched
# messages, interleaved with rules that use the profiles (the raw table replaced whole
# through IPT_SO_SET_REPLACE, or one $IPT-restore --noflush per step in mangle). A
# model of the table, the netlink core and the handlers predicts every answer: a
# refusal changes nothing and carries an extended-ack message (but for the core's own
# few, counted), a success changes exactly what it says, DEL of a profile in use is
# EBUSY, and the events group announces every change. Then an unprivileged user: EPERM
# for everything, reading included, nothing changed; and that user in a user and
# network namespace of its own: its own profiles only, none of this namespace's.
# SSNAT_SCALE: check 10,000 messages (6,000 as root), soak 200,000, quick 3,000 (make
# check's run on the debug kernel).
. "$SSNAT_OUT/env.sh"; . "$REPO/tests/lib/guest.sh"
case ${SSNAT_SCALE:-check} in
soak) N=160000 K=20000 WATCHDOG=14400 ;;
quick) N=2000 K=500 WATCHDOG=600 ;;
*) N=6000 K=2000 WATCHDOG=600 ;;
esac
SEED=${SSNAT_FUZZ_SEED:-$((RANDOM * 32768 + RANDOM))}
load_module
# The rule steps use raw and mangle OUTPUT of this (the initial) namespace; the guest
# has no other traffic that reaches them, and they are emptied again at the end.
note "at ${SECONDS}s: seed $SEED; $N messages as root, $K unprivileged, $K in a user namespace; rules through $IPT"
rc=0
# (-S: no site packages to import; starting Python costs seconds in the guest)
# (The log is kept with the results: if the guest runs out of time, it shows how far.)
LOG=$SSNAT_OUT/genlfuzz.log
$PY -S "$REPO/tests/lib/genlfuzz.py" $N --seed $SEED --ipt $IPT --unpriv $K --userns $K --cap 6 \
	--watchdog $WATCHDOG >"$LOG" 2>&1 || rc=$?
grep -v '^# ' "$LOG"
note "fuzz done at ${SECONDS}s"
summary=$(tail -n 1 "$LOG")
case "$summary" in root:*) ;; *) fail "genlfuzz.py did not finish (status $rc)" ;; esac
[ $rc = 0 ] || fail "$(grep -o 'mismatches [0-9]*' "$LOG" | awk '{s += $2} END {print s + 0}') answers differ from the model, or a child failed (seed $SEED)"
total=0
for n in $(grep -o 'messages [0-9][0-9]*' "$LOG" | awk '{print $2}'); do total=$((total + n)); done
[ $total -ge $((N + 2 * K)) ] || fail "only $total messages"
# Nothing left: no rule, no profile, and the module unloads.
[ "$(cat /proc/net/xt_SSNAT | wc -l)" = 1 ] || fail "rules left: $(cat /proc/net/xt_SSNAT)"
[ -z "$($BIN/ssnatctl profile list)" ] || fail "profiles left: $($BIN/ssnatctl profile list)"
rmmod xt_SSNAT || fail "rmmod"
echo "PASS: $total netlink messages, every answer as the model says; refusals change nothing and say why; events match; EPERM for a user without CAP_NET_ADMIN, reading included; a user namespace sees only its own"
