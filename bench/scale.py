#!/usr/bin/env python3
"""Flat cost with size (issue 19): the time per mail of `postkorb serve` importing N mails, for a small
and a large N of the same corpus, and serve's peak RSS throughout each run.

    bench/gen_corpus.py --count 100000 --seed 7 --max-size 100000 --out C --senders-file C.senders
    cp C.senders C/senders.tsv
    bench/scale.py --corpus C --sizes 1000,100000 [--reps 1]

Each run is memory.py's `serve_import`: a fresh copy of the benchmark's data dir (bench.py's
employees, routes and IMAP mailbox), the INBOX rebuilt with the first N mails of the corpus, `serve`
started and the database polled until every mail is a Vorgang or kept mail and the INBOX is empty;
peak RSS is VmHWM of the serve process, read every 0.25 s and at the end; CPU of serve and of Dovecot
(master, exited and live imap processes) from serve's start to the last mail. Two times: from serve's
start (which carries its start, a fraction of a second that weighs on a small N), and from the importer's
first pass (`pass: start` in serve's log with POSTKORB_LOG=arrival=debug) to the last mail, found by
polling every 20 ms near the end — the import's own time per mail. Prints a table and the ratio
of the largest N's time per mail to the smallest's (target ≤ 1.2×; peak RSS ≤ 150 MB). Numbers only.
"""

import argparse
import os
import statistics
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench as b  # noqa: E402
import memory  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", required=True, help="Maildir from gen_corpus.py with senders.tsv")
    ap.add_argument("--postkorb", default=os.path.join(b.REPO, "target", "release", "postkorb"))
    ap.add_argument("--sizes", default="1000,100000")
    ap.add_argument("--reps", type=int, default=1)
    ap.add_argument("--work", default=os.path.join(b.HERE, "out", "scale"))
    args = ap.parse_args()

    files = sorted(os.path.join(args.corpus, "new", f) for f in os.listdir(os.path.join(args.corpus, "new")))
    senders = [tuple(l.rstrip("\n").split("\t")) for l in open(os.path.join(args.corpus, "senders.tsv"), encoding="utf-8")]
    sizes = [int(s) for s in args.sizes.split(",")]
    if max(sizes) > len(files):
        raise SystemExit(f"the corpus has {len(files)} mails, fewer than {max(sizes)}")
    os.makedirs(args.work, exist_ok=True)
    subprocess.run(["chown", "-R", "nobody:nogroup", args.corpus], check=True)
    dovecot = b.Dovecot(os.path.join(args.work, "dovecot"))
    results, cpu, imports = {}, {}, {}
    try:
        pk = b.Postkorb(os.path.abspath(args.postkorb), args.work, dovecot, senders, 0)
        for rep in range(args.reps):
            for n in sizes:
                stats = {}
                wall, hwm = memory.serve_import(pk, dovecot, files[:n], f"n{n}-rep{rep}", timeout=6 * 3600,
                                                stats=stats)
                results.setdefault(n, []).append((wall, hwm))
                imports.setdefault(n, []).append(stats["import_s"])
                cpu.setdefault(n, []).append((stats["serve_cpu"], stats["dovecot_cpu"]))
    finally:
        dovecot.stop()

    mb = sum(os.path.getsize(f) for f in files[: max(sizes)]) / 1e6
    print(f"\ncorpus: {args.corpus} (first {max(sizes):,} mails: {mb:,.0f} MB), repetitions: {args.reps}\n")
    print("| mails | median wall s | ms per mail | import s | ms per mail (import) | mails/s | peak RSS MiB (max) "
          "| serve CPU ms per mail | Dovecot CPU ms per mail |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    per_mail, per_mail_import = {}, {}
    for n in sizes:
        wall = statistics.median(w for w, _ in results[n])
        hwm = max(h for _, h in results[n])
        serve_cpu = statistics.median(c for c, _ in cpu[n])
        dovecot_cpu = statistics.median(d for _, d in cpu[n])
        per_mail[n] = wall / n
        imp = statistics.median(imports[n])
        per_mail_import[n] = imp / n
        print(f"| {n:,} | {wall:.2f} | {1000 * wall / n:.2f} | {imp:.2f} | {1000 * imp / n:.2f} | {n / wall:,.0f} "
              f"| {hwm / 1024:.1f} "
              f"| {1000 * serve_cpu / n:.2f} | {1000 * dovecot_cpu / n:.2f} |")
    lo, hi = min(sizes), max(sizes)
    print(f"\ntime per mail at {hi:,} ÷ at {lo:,}: {per_mail[hi] / per_mail[lo]:.2f} from serve's start, "
          f"{per_mail_import[hi] / per_mail_import[lo]:.2f} from the importer's first pass (target ≤ 1.2)")


if __name__ == "__main__":
    main()
