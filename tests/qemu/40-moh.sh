# vcpus: 2
# seconds: 300 (about, on the release kernel: tests/run.sh starts the longest first)
# The Music-On-Hold scenario of `make demo` (demo/moh.sh): real SIP (SIPp) through the
# router's conntrack SNAT, nine calls in three waves (make check: three in one), each
# wave's three calls on hold at the same time with new ports, RTP from the PBX and MOH
# from its port 4000. First without SSNAT: every held call's MOH reaches the provider
# from the wrong source (the problem). Then with NOTRACK, -j SSNAT --profile moh and
# `ssnatctl follow` making and removing every entry from the SIP it reads on NFLOG:
# every held call's audio path is intact (provider_check.py: right source, no loss,
# continuous sequence numbers, valid checksums). The counts are asserted: the follower
# added one entry per call and deleted it at the BYE, the profile rewrote every MOH
# packet the provider received, and no MOH packet went without an entry. Results (pcaps,
# accounts, timeline.png) are copied to $SSNAT_OUT/moh-{problem,fix} for `make demo`.
. "$SSNAT_OUT/env.sh"; . "$REPO/tests/lib/guest.sh"
D=$REPO/demo
load_module
# make check: one wave (three calls on hold at once); make demo and make soak: the
# whole scenario, three waves (scripts/demo.sh runs it at SSNAT_SCALE=soak). Under TCG
# a wave costs about a minute of each run.
waves=1
[ "${SSNAT_SCALE:-check}" != soak ] || waves=3
calls=$((waves * 3))
# The runs work in the guest's own /tmp ($W): the shared directory is no place for files
# two processes write and read at once (rtp.py reads SIPp's event lines as they come).
for mode in problem fix; do
	out=$W/moh-$mode
	echo "== demo/moh.sh $mode"
	if ! MOH_WAVES=$waves SSNATCTL=$BIN/ssnatctl IPT=$IPT "$D/moh.sh" $mode "$out" >"$out.log" 2>&1; then
		# the evidence, for the host: every log of the run
		rm -rf "$SSNAT_OUT/moh-$mode"
		cp -r "$out" "$SSNAT_OUT/moh-$mode" 2>/dev/null
		cp "$out.log" "$SSNAT_OUT/moh-$mode/run.log" 2>/dev/null
		fail "moh.sh $mode: $(tail -n 12 "$out.log"; tail -n 15 "$out"/uac-errors.log "$out"/uas-errors.log 2>/dev/null)"
	fi
	cp "$out.log" "$out/run.log"
	flag=
	[ $mode = fix ] || flag=--expect-problem
	# (rtp.py follows SIPp's progress through a file: under TCG it may switch streams a
	# second or two after the re-INVITE went by)
	rc=0
	$PY "$D/provider_check.py" $flag --tolerance 3 --json "$out/check.json" "$out" >"$out/check.txt" 2>&1 || rc=$?
	rm -rf "$SSNAT_OUT/moh-$mode"
	cp -r "$out" "$SSNAT_OUT/moh-$mode"
	[ $rc = 0 ] || fail "provider_check.py $flag ($mode): $(cat "$out/check.txt")"
	tail -n 1 "$out/check.txt"
done

fix=$W/moh-fix
# Every entry by the follower: one add and one delete (at the BYE) per call.
adds=$(grep -c ": entry add udp 203.0.113.5:" "$fix/follow.log" || true)
dels=$(grep -c ": entry del udp 203.0.113.5:.* (bye)" "$fix/follow.log" || true)
[ "$adds" = $calls ] || fail "the follower added $adds entries, not $calls: $(cat "$fix/follow.log")"
[ "$dels" = $calls ] || fail "the follower deleted $dels entries at a BYE, not $calls: $(cat "$fix/follow.log")"
grep -q "^error" "$fix/follow.log" && fail "the follower logged errors: $(cat "$fix/follow.log")"
# The profile's counters against the provider's account: every MOH packet the provider
# got was rewritten by an entry, none went without one.
$PY - "$fix/check.json" "$fix/run.log" $calls <<'PY' || fail "counters do not match the provider's account"
import json, re, sys
acct = json.load(open(sys.argv[1]))
log = open(sys.argv[2]).read()
calls = acct["calls"]
assert len(calls) == int(sys.argv[3]), len(calls)
moh = sum(st["packets"] for c in calls for st in c["streams"] if st["kind"] == "moh")
# "ssnatctl stats moh": the header line, then the profile's line
m = re.search(r"^NAME .*\n(moh .*)$", log, re.M)
assert m, "no stats table in the run log"
head = re.search(r"^NAME .*$", log, re.M).group(0).split()
row = dict(zip(head, m.group(1).split()))
print("provider got %d MOH packets; profile moh: %s" % (moh, row))
assert int(row["PACKETS"]) == moh, (row["PACKETS"], moh)
assert int(row["NO-ENTRY"]) == 0, row
assert acct["intact"] and not any(c["faults"] for c in calls), acct["reasons"]
PY
$PY "$D/timeline.py" --tolerance 3 "$fix" "$W/moh-problem" >"$W/timeline.log" 2>&1 || fail "timeline.py: $(cat "$W/timeline.log")"
[ -s "$fix/timeline.png" ] || fail "no timeline.png"
cp "$fix/timeline.png" "$SSNAT_OUT/moh-fix/"
echo "PASS: music on hold, $calls calls"
