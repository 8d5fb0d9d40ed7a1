#!/usr/bin/python3
"""The short account `make demo` prints of the two runs of demo/moh.sh.

Usage: account.py PROBLEM_DIR FIX_DIR (each with the check.json of provider_check.py
and the run.log of moh.sh; tests/qemu/40-moh.sh makes them). Per call: the media
address and port the PBX negotiated, the caller's, when it was on hold, and the MOH the
provider received from the right and from wrong sources, without SSNAT and with it;
then the router's counters and the follower's decisions of the fixed run, and one last
line saying whether every held call's audio path was intact.
"""

import json
import os
import re
import sys


def moh(call):
    """(MOH packets from the negotiated source, from others, the other sources)."""
    right = sum(s["packets"] for s in call["streams"] if s["kind"] == "moh" and s["source"] == call["pbx_media"])
    wrong = sum(s["packets"] for s in call["streams"] if s["kind"] == "moh" and s["source"] != call["pbx_media"])
    others = sorted({s["source"] for s in call["streams"] if s["kind"] == "moh" and s["source"] != call["pbx_media"]})
    return right, wrong, others


def section(log, title):
    """The lines of moh.sh's run log after '== TITLE', up to the next '=='."""
    m = re.search(r"^== %s.*\n((?:(?!==).*\n)*)" % re.escape(title), log, re.M)
    return m.group(1).rstrip("\n").splitlines() if m else []


def main():
    problem_dir, fix_dir = sys.argv[1:3]
    problem = json.load(open(os.path.join(problem_dir, "check.json")))
    fix = json.load(open(os.path.join(fix_dir, "check.json")))
    log = open(os.path.join(fix_dir, "run.log")).read()
    follow = open(os.path.join(fix_dir, "follow.log")).read().splitlines()
    calls = {c["call"]: c for c in fix["calls"]}
    before = {c["call"]: c for c in problem["calls"]}
    waves = len({round(c["holds"][0][0] / 5) for c in fix["calls"] if c["holds"]})
    print("Music on hold through the router: %d calls (SIPp), %d waves whose calls are on hold together"
          % (len(calls), waves))
    print("MOH leaves the PBX from 10.0.0.10:4000 for every call; the provider accepts only the negotiated source.")
    print()
    print("%-4s %-20s %-19s %-12s %-36s %s" % ("call", "PBX media (SDP)", "caller media", "on hold",
                                               "MOH without SSNAT", "MOH with SSNAT + follower"))
    for n in sorted(calls):
        c, b = calls[n], before.get(n)
        held = ", ".join("%.1f-%.1f s" % tuple(h) for h in c["holds"])
        r, w, _ = moh(c)
        after = "%d right, %d wrong" % (r, w)
        if b:
            br, bw, bo = moh(b)
            was = "%d right, %d from %s" % (br, bw, ",".join(bo) or "-")
        else:
            was = "-"
        print("%-4d %-20s %-19s %-12s %-36s %s" % (n, c["pbx_media"], c["provider_media"], held, was, after))
    print()
    print("router with SSNAT (/proc/net/xt_SSNAT; ssnatctl stats moh):")
    for line in section(log, "/proc/net/xt_SSNAT") + section(log, "ssnatctl stats moh"):
        print("  " + line)
    adds = [l for l in follow if ": entry add " in l]
    dels = [l for l in follow if ": entry del " in l]
    print("call follower (ssnatctl follow, from the SIP on NFLOG): %d entries added when calls were answered,"
          " %d deleted at their BYE; first decisions:" % (len(adds), len(dels)))
    for line in follow[1:4]:
        print("  " + line)
    print()
    print("without SSNAT: every held call's audio path was intact: %s"
          % ("yes" if problem["intact"] else "no (%s)" % "; ".join(problem["reasons"])))
    ok = fix["intact"]
    print("with SSNAT:    every held call's audio path was intact: %s"
          % ("yes" if ok else "no (%s)" % "; ".join(fix["reasons"])))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
