#!/usr/bin/env python3
"""Plot of import time (median, min–max bar) against mailbox size, one line per tool.

    bench/plot.py bench/out/results.json docs/benchmark-import.png [more results.json …]
Several results files (e.g. one run per size) are merged.
"""

import json
import statistics
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

COLORS = {"postkorb": "#c0392b", "postkorb-indb": "#e67e22", "mbsync": "#2471a3", "mbsync-nofsync": "#7fb3d5", "python": "#229954"}


def main():
    out = sys.argv[2]
    merged, labels = {}, {}
    for path in [sys.argv[1]] + sys.argv[3:]:
        r = json.load(open(path))
        labels.update(r["labels"])
        for n, res in r["sizes"].items():
            for tool, t in res["tools"].items():
                merged.setdefault(tool, {})[int(n)] = (res["bytes"], t["wall"])
    fig, ax = plt.subplots(figsize=(8, 5), dpi=120)
    for tool, pts in merged.items():
        ns = sorted(pts)
        med = [statistics.median(pts[n][1]) for n in ns]
        lo = [m - min(pts[n][1]) for n, m in zip(ns, med)]
        hi = [max(pts[n][1]) - m for n, m in zip(ns, med)]
        ax.errorbar(ns, med, yerr=[lo, hi], marker="o", capsize=3, label=labels.get(tool, tool),
                    color=COLORS.get(tool))
    ax.set_xlabel("mails in the mailbox (corpus prefix; 10,000 mails = 1.98 GB)")
    ax.set_ylabel("wall time, seconds (median, bars: min–max)")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_title("Bulk import from a local Dovecot (IMAP, loopback), 2 cores")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out)
    print(f"wrote {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
