#!/usr/bin/python3
"""Summaries and tables of the in-guest forwarding benchmark (bench/guest/forward.sh).

  forward_report.py summarize RUNS.csv > SUMMARY.csv
      one line per (section, variant, size, source, flows, threads, vcpus): the mean
      cost per packet over the rounds (guest ns = guest instructions under
      -icount shift=0), min and max, the baseline's cost and the difference, the mean
      delivered packets per guest second
  forward_report.py report --out DIR --stamp STAMP [--info TEXT]... SUMMARY.csv...
      Markdown tables (printed, and written to DIR/forward-STAMP.md), the combined
      summary (DIR/forward-STAMP.csv), a chart of section 1 (DIR/forward-STAMP.png),
      and forward-latest.* copies
"""
import argparse
import csv
import os
import shutil
import sys
from collections import OrderedDict

KEY = ("section", "variant", "size", "source", "flows", "threads", "vcpus")
FIELDS = ["section", "variant", "baseline", "size", "source", "flows", "threads", "vcpus", "rounds",
          "instr_per_pkt", "min", "max", "baseline_instr_per_pkt", "minus_baseline", "delivered_pps",
          "offered", "delivered", "measure"]
SSNAT = "ssnat-legacy"
PACED = "pktgen-paced"


def busy_measured(variant, source):
    """Whether a run's cost is the CPUs' busy time (forward.sh's traffic): paced runs, and
    runs where a userspace rewriter works after pktgen's last packet; else pktgen's (or
    the sender's) own elapsed time."""
    return source == PACED or variant.startswith("nfqueue")


def summarize(path):
    groups = OrderedDict()
    with open(path) as f:
        for r in csv.DictReader(f):
            k = tuple(r[x] for x in KEY)
            g = groups.setdefault(k, dict(baseline=r["baseline"], costs=[], busy=[], pps=[], offered=[],
                                          delivered=[]))
            e, d = int(r["elapsed_ns"]), int(r["delivered"])
            g["costs"].append(e / d)
            g["busy"].append(int(r["busy_ns"]) / d)
            g["pps"].append(d / (e / 1e9))
            g["offered"].append(int(r["offered"]))
            g["delivered"].append(d)
    for k, g in groups.items():
        g["measure"] = "busy" if busy_measured(k[1], k[3]) else "elapsed"
    # each group's mean cost in both measures: a baseline is taken in its variant's
    mean = {(k, m): sum(g[c]) / len(g[c]) for k, g in groups.items() for m, c in (("elapsed", "costs"),
                                                                                  ("busy", "busy"))}
    out = csv.writer(sys.stdout, lineterminator="\n")
    out.writerow(FIELDS)
    for k, g in groups.items():
        row = dict(zip(KEY, k))
        base, m = g["baseline"], g["measure"]
        costs = g["costs"] if m == "elapsed" else g["busy"]
        bcost = None
        if base:
            for sec in (row["section"], "main"):
                bk = (sec, base) + k[2:]
                if (bk, m) in mean:
                    bcost = mean[(bk, m)]
                    break
        c = mean[(k, m)]
        out.writerow([row["section"], row["variant"], base, row["size"], row["source"], row["flows"],
                      row["threads"], row["vcpus"], len(costs), "%.1f" % c, "%.1f" % min(costs),
                      "%.1f" % max(costs), "" if bcost is None else "%.1f" % bcost,
                      "" if bcost is None else "%.1f" % (c - bcost), "%.0f" % (sum(g["pps"]) / len(g["pps"])),
                      "%.0f" % (sum(g["offered"]) / len(g["offered"])),
                      "%.0f" % (sum(g["delivered"]) / len(g["delivered"])), m])


def load(paths):
    rows = []
    for p in paths:
        with open(p) as f:
            rows.extend(csv.DictReader(f))
    return rows


def num(x):
    return float(x) if x not in ("", None) else None


def fmt(x, digits=0):
    return "" if x is None else ("{:,.%df}" % digits).format(x)


def spread(r):
    c, lo, hi = num(r["instr_per_pkt"]), num(r["min"]), num(r["max"])
    return "%s–%s (±%.2f%%)" % (fmt(lo), fmt(hi), 100 * max(c - lo, hi - c) / c)


def minus(r):
    if r["minus_baseline"] == "":
        return "—"
    return "%s (vs %s)" % (fmt(num(r["minus_baseline"])), r["baseline"])


def table(lines, header, rows):
    lines.append("| " + " | ".join(header) + " |")
    lines.append("| " + " | ".join("---" if i == 0 else "---:" for i in range(len(header))) + " |")
    for r in rows:
        lines.append("| " + " | ".join(r) + " |")
    lines.append("")


def variant_table(lines, rows):
    """Rows of one comparison (same size and source), with ratios to SSNAT."""
    ref = next((r for r in rows if r["variant"] == SSNAT), None)
    header = ["variant", "instr/pkt", "minus baseline", "spread (min–max)", "cost ratio to SSNAT",
              "rewrite ratio to SSNAT", "delivered pps (guest)", "pps ratio to SSNAT"]
    out = []
    busy = False
    for r in rows:
        c, pps = num(r["instr_per_pkt"]), num(r["delivered_pps"])
        ratio = rw = pr = ""
        if ref:
            ratio = "%.2f" % (c / num(ref["instr_per_pkt"]))
            pr = "%.2f" % (pps / num(ref["delivered_pps"]))
            if r["minus_baseline"] != "" and num(ref["minus_baseline"]):
                rw = "%.2f" % (num(r["minus_baseline"]) / num(ref["minus_baseline"]))
        name = r["variant"]
        if r["offered"] != r["delivered"]:
            name += " (%s of %s delivered)" % (fmt(num(r["delivered"])), fmt(num(r["offered"])))
        if r.get("measure") == "busy" and r["source"] != PACED:
            name += " †"
            busy = True
        out.append([name, fmt(c), minus(r), spread(r), ratio, rw, fmt(pps), pr])
    table(lines, header, out)
    if busy:
        lines.append("† the CPUs' busy time per delivered packet (pktgen, the router, the rewriter until its "
                     "last verdict; the work for the packets the full queue dropped included), less the "
                     "baseline's busy time: the rewriter's queue drains after pktgen's last packet, and "
                     "pktgen's own clock does not see that.")
        lines.append("")


def scaling_table(lines, rows):
    header = ["variant", "vCPUs", "pktgen threads", "flows", "instr/pkt", "minus baseline", "spread (min–max)",
              "delivered pps (guest)"]
    out = []
    for r in rows:
        name = r["variant"]
        if r["offered"] != r["delivered"]:
            name += " (%s of %s delivered)" % (fmt(num(r["delivered"])), fmt(num(r["offered"])))
        out.append([name, r["vcpus"], r["threads"], r["flows"], fmt(num(r["instr_per_pkt"])), minus(r), spread(r),
                    fmt(num(r["delivered_pps"]))])
    table(lines, header, out)


def chart(rows, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    sizes = sorted({r["size"] for r in rows}, key=int)
    fig, axes = plt.subplots(1, len(sizes), figsize=(6.5 * len(sizes), 5.5), squeeze=False)
    for ax, size in zip(axes[0], sizes):
        rs = [r for r in rows if r["size"] == size]
        names = [r["variant"] for r in rs]
        c = [num(r["instr_per_pkt"]) for r in rs]
        err = [[x - num(r["min"]) for x, r in zip(c, rs)], [num(r["max"]) - x for x, r in zip(c, rs)]]
        colours = ["tab:red" if n.startswith("ssnat") else "tab:grey" if not any(
            n.startswith(p) for p in ("nft-payload", "tc", "nfqueue", "snat")) else "tab:blue" for n in names]
        ax.barh(range(len(rs)), c, xerr=err, color=colours, capsize=3)
        ax.set_yticks(range(len(rs)))
        ax.set_yticklabels(names)
        ax.invert_yaxis()
        ax.set_xlabel("guest instructions per delivered packet (QEMU -icount)")
        ax.set_title("%s-byte frames, pktgen into r0, forwarded to r1" % size)
        for i, x in enumerate(c):
            ax.text(x, i, " %s" % fmt(x), va="center", fontsize=8)
    fig.suptitle("xt_SSNAT forwarding benchmark: cost per packet by variant (bars: min–max over rounds)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def report(a):
    rows = load(a.summary)
    by = lambda **kw: [r for r in rows if all(r[k] == v for k, v in kw.items())]  # noqa: E731
    L = ["# xt_SSNAT: in-guest forwarding benchmark", ""]
    L.append("Numbers are **guest instruction counts under QEMU `-icount shift=0`** (1 guest ns = 1 guest "
             "instruction), not times: instructions per delivered packet of the whole path (generator, router, "
             "receiver's drop); \"pps (guest)\" is packets per 10^9 guest instructions. "
             "\"minus baseline\" is the variant's cost less its baseline's (the same path without the rewrite); "
             "\"rewrite ratio\" compares that difference with SSNAT's.")
    L.append("")
    for i in a.info:
        L.append("- " + i)
    L.append("")
    sizes = sorted({r["size"] for r in by(section="main", source="pktgen")}, key=int)
    if sizes:
        L.append("## 1. Variants: pktgen into r0's receive path (skb shared, so every variant pays one header copy)")
        L.append("")
        for s in sizes:
            L.append("### %s-byte frames" % s)
            L.append("")
            variant_table(L, by(section="main", source="pktgen", size=s))
    for src, title in (("pktgen-unshared", "pktgen with `flag !SHARED`: an unshared skb, no header copy"),
                       ("sender", "a real sender (bench/udp-blast, sendmmsg) in snd: sender + router + "
                                  "receiver, the same sender for every variant")):
        rs = [r for r in rows if r["source"] == src]
        if rs:
            L.append("## 1b. Unshared skb: %s" % title)
            L.append("")
            for s in sorted({r["size"] for r in rs}, key=int):
                L.append("### %s-byte frames" % s)
                L.append("")
                variant_table(L, [r for r in rs if r["size"] == s])
    rs = by(section="paced", source=PACED)
    if rs:
        L.append("## 1c. Paced: pktgen sends a packet every %s guest µs, the router idle in between" % a.pace_us)
        L.append("")
        L.append("instr/pkt here is the CPUs' **busy** time per packet (the scheduler's task run time, "
                 "/proc/schedstat; idle excluded): each packet wakes pktgen's thread, and NFQUEUE's rewriter "
                 "from its recv(), as at the rate of a few RTP streams (50 packets/s each). pps is the pace. "
                 "Flooding (section 1) lets the rewriter take the queue's packets in batches and drops "
                 "what the full queue cannot hold; here nothing is dropped and nothing is batched.")
        L.append("")
        variant_table(L, rs)
    for sec, title in (("profiles", "`--profile` rule with 1, 100, 10,000 profiles in the namespace"),
                       ("entries", "`--profile` rule of an entries-only profile with 1, 1,000 and 100,000 "
                                   "entries (per-destination translations), the packets' destination among "
                                   "them; ssnat-profile: the profile's own mapping, no entries"),
                       ("rules", "rules in raw PREROUTING before the matching SSNAT rule (non-matching "
                                 "`-s 10.9.x.y`): K SSNAT rules vs K-1 MARK rules + the SSNAT one"),
                       ("ports", "port range of 1 and of 65,535 ports (1-65535), 64 flows (pktgen varies "
                                 "the source port)"),
                       ("smp", "2 vCPUs: pktgen on 1 or 2 threads (CPUs), 64 flows; NFQUEUE with one "
                               "queue (rewriter on CPU 1) and --queue-balance 0:1 (a rewriter per CPU)")):
        rs = by(section=sec)
        if rs:
            L.append("## 2. Scaling: %s" % title)
            L.append("")
            scaling_table(L, rs)
    one = {r["variant"]: r for r in by(section="ports")}
    two = by(section="smp")
    if one and two:
        L.append("## 2. Scaling: 1 and 2 vCPUs, notrack and SSNAT (64 flows)")
        L.append("")
        out = []
        if "notrack" in one and "ssnat-port-1" in one:
            n, s = num(one["notrack"]["instr_per_pkt"]), num(one["ssnat-port-1"]["instr_per_pkt"])
            out.append(["1", "1", fmt(n), fmt(s), fmt(s - n)])
        for t in sorted({r["threads"] for r in two}):
            d = {r["variant"]: r for r in two if r["threads"] == t}
            if "notrack" in d and SSNAT in d:
                n, s = num(d["notrack"]["instr_per_pkt"]), num(d[SSNAT]["instr_per_pkt"])
                out.append(["2", t, fmt(n), fmt(s), fmt(s - n)])
        table(L, ["vCPUs", "pktgen threads", "notrack instr/pkt", "ssnat-legacy instr/pkt", "SSNAT's own"], out)
        L.append("One pktgen thread (the second vCPU idle) costs what it costs on one vCPU: the rows compare. "
                 "With both vCPUs busy (two pktgen threads, or NFQUEUE's rewriters on the other vCPU), QEMU's "
                 "round-robin TCG under -icount no longer advances the guest clock once per instruction of "
                 "each vCPU: time per packet falls below the one-thread figure and varies from round to round "
                 "(see the spread above), so those rows are not instruction counts and compare with nothing.")
        L.append("")
    text = "\n".join(L)
    print(text)
    os.makedirs(a.out, exist_ok=True)
    base = os.path.join(a.out, "forward-%s" % a.stamp)
    with open(base + ".md", "w") as f:
        f.write(text + "\n")
    with open(base + ".csv", "w") as f:
        w = csv.DictWriter(f, fieldnames=FIELDS, lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
    files = [base + ".md", base + ".csv"]
    main = by(section="main", source="pktgen")
    if main:
        try:
            chart(main, base + ".png")
            files.append(base + ".png")
        except ImportError:
            print("(no chart: python3-matplotlib is not installed)", file=sys.stderr)
    for f in files:
        shutil.copyfile(f, os.path.join(a.out, "forward-latest" + os.path.splitext(f)[1]))
    print("(written to %s)" % ", ".join(files), file=sys.stderr)


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("summarize")
    s.add_argument("runs")
    r = sub.add_parser("report")
    r.add_argument("--out", required=True)
    r.add_argument("--stamp", required=True)
    r.add_argument("--info", action="append", default=[])
    r.add_argument("--pace-us", default="200")
    r.add_argument("summary", nargs="+")
    a = p.parse_args()
    if a.cmd == "summarize":
        summarize(a.runs)
    else:
        report(a)


if __name__ == "__main__":
    main()
