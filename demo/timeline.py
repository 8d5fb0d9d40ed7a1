#!/usr/bin/python3
"""Draw OUTDIR/timeline.png: what the provider received in a run of demo/moh.sh, over time.

One row per call: the RTP packets per second reaching the call's provider media port,
those from the negotiated PBX address and port (which the border controller accepts)
apart from those from any other source (which it drops), with each hold shaded.
Given more run directories (e.g. the problem run as well as the fix run), it draws one
column per run, side by side, into the first one's timeline.png.
"""

import argparse
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402 (the backend is chosen first)
from matplotlib.patches import Patch  # noqa: E402

sys.dont_write_bytecode = True  # no __pycache__ in the work tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import provider_check  # noqa: E402 (found beside this file)

BIN = 0.5  # seconds per bar of the rate
RIGHT, WRONG, HOLD = "#2a9d3f", "#d62828", "#3a4a6b"


def rates(times, end):
    """(bin starts, packets per second) of the packet times, in bins of BIN seconds."""
    n = int(end / BIN) + 1
    counts = [0] * n
    for t in times:
        if 0 <= t < n * BIN:
            counts[int(t / BIN)] += 1
    return [i * BIN for i in range(n)], [c / BIN for c in counts]


def column_title(report):
    """What a run's column shows, in a few words."""
    moh_sources = sorted({s for c in report["calls"] for s in c["wrong_sources"]})
    if report["intact"]:
        outcome = "MOH from the negotiated address and port: callers hear it"
    elif moh_sources:
        outcome = f"MOH from {', '.join(moh_sources)}: dropped, callers hear silence"
    else:
        outcome = "audio path broken: " + "; ".join(report["reasons"])
    return f"mode {report['mode']}: {outcome}"


def draw(outdirs, png, tolerance=provider_check.TOLERANCE):
    """Draw the runs of outdirs, one column each, into png."""
    runs = []
    for outdir in outdirs:
        try:
            runs.append(provider_check.analyse(outdir, tolerance))
        except provider_check.RunError as err:
            sys.exit(f"timeline: {outdir}: {err}")
    rows = max(len(report["calls"]) for report, _ in runs)
    end = max(t for _, packets in runs for pkts in packets.values() for t, _ in pkts) + 1
    fig, axes = plt.subplots(
        rows, len(runs), figsize=(11 * len(runs), 0.7 * rows + 1.8), sharex=True, sharey=True, squeeze=False
    )
    for col, (report, packets) in enumerate(runs):
        axes[0][col].set_title(column_title(report), fontsize=10)
        for row in range(rows):
            ax = axes[row][col]
            if row >= len(report["calls"]):
                ax.set_visible(False)
                continue
            call = report["calls"][row]
            for start, stop in call["holds"]:
                ax.axvspan(start, stop, facecolor="none", edgecolor=HOLD, hatch="///", linewidth=0, zorder=3)
                ax.axvline(start, color=HOLD, linewidth=1.2, zorder=3)
                ax.axvline(stop, color=HOLD, linewidth=1.2, linestyle="--", zorder=3)
            pkts = packets[call["call"]]
            for ok, colour in ((True, RIGHT), (False, WRONG)):
                x, y = rates([t for t, right in pkts if right == ok], end)
                ax.fill_between(x, y, step="post", color=colour, alpha=0.75, linewidth=0, zorder=2)
            ax.set_ylim(0, 65)
            ax.set_yticks([0, 50])
            ax.tick_params(labelsize=7)
            ax.set_ylabel(f"call {call['call']}\n:{call['pbx_media'].rsplit(':', 1)[1]}", rotation=0,
                          ha="right", va="center", fontsize=8)
        axes[rows - 1][col].set_xlabel("seconds since the capture started", fontsize=9)
    fig.suptitle("RTP packets per second reaching each call's provider media port (50 = one full stream)",
                 fontsize=11)
    fig.legend(
        handles=[
            Patch(color=RIGHT, label="from the negotiated PBX address:port (accepted)"),
            Patch(color=WRONG, label="from another source (dropped)"),
            Patch(facecolor="none", edgecolor=HOLD, hatch="///", label="on hold: re-INVITE sendonly (solid) to sendrecv (dashed)"),
        ],
        loc="lower center", ncol=3, fontsize=8, frameon=False,
    )
    fig.tight_layout(rect=(0, 0.04, 1, 0.97))
    fig.savefig(png, dpi=110)


def main():
    """Parse the command line and draw."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("outdir", help="the OUTDIR of demo/moh.sh; timeline.png is written there")
    p.add_argument("more", nargs="*", help="more runs' OUTDIRs, drawn as further columns")
    p.add_argument("--tolerance", type=float, default=provider_check.TOLERANCE,
                   help="seconds allowed at hold and resume (as for provider_check.py)")
    args = p.parse_args()
    png = os.path.join(args.outdir, "timeline.png")
    draw([args.outdir] + args.more, png, args.tolerance)
    print(f"timeline: wrote {png}")


if __name__ == "__main__":
    main()
