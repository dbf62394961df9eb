#!/usr/bin/env python3
"""Two Postkorb builds against each other on the bulk import, same Dovecot, same corpus, same run
(issue 14 item 8: is a vendored patch still worth it?).

    bench/ab.py --corpus bench/out/corpus-seed6-1000 --sizes 1000 --reps 5 \\
        with-fork=/tmp/postkorb-A without-fork=/tmp/postkorb-B

Options after the binary, comma-separated: `plain` runs with encryption at rest switched off (issue
18 item 7: what does encryption cost the import?), `indb` keeps raw mails inside SQLite
(blob_dir = ""), `noindex` sets POSTKORB_BENCH_NOINDEX for a build made with bench/noindex.patch
applied (issue 16: what does the search index cost the import? — the same binary both ways), `sql=FILE`
runs FILE on the new database before the import (an experiment, e.g. other FTS5 options; with
`pg` on the template database),
`env.NAME=VALUE` sets a variable for that build's runs (an experiment's switch), `pg` imports into
PostgreSQL (a fresh database per run on POSTKORB_TEST_POSTGRES's server, raw mails in the database as
is PostgreSQL's default); BENCH_KEEP=1 keeps each run's data directory (SQLite: its database) under --work:

    bench/ab.py --corpus … sealed=target/release/postkorb plain=target/release/postkorb,plain
    git apply bench/noindex.patch && cargo build --release -p postkorb-app && cp target/release/postkorb /tmp/pk-switch
    git apply -R bench/noindex.patch
    bench/ab.py --corpus … --sizes 2000 without=/tmp/pk-switch,indb,plain,noindex with=/tmp/pk-switch,indb,plain

Each timed run is bench.py's `postkorb` tool (fresh data dir, `fetch --once`, every mail a Vorgang
or kept, INBOX empty afterwards), from the same mailbox state. The builds alternate within a
repetition and which goes first alternates between repetitions, so drift of the shared machine
hits both alike. Prints min and median wall time (and CPU) per build and the median ratio.
`--tmpfs` runs everything on /dev/shm (the corpus subset copied there): the disk's fsync swings
out of the comparison, for a steady reading of CPU and the commit path.
"""
import argparse
import os
import shutil
import statistics

import bench


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", required=True, help="Maildir from gen_corpus.py (as bench.py)")
    ap.add_argument("--sizes", default="1000")
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--work", default=os.path.join(bench.HERE, "out", "ab"))
    ap.add_argument("--tmpfs", action="store_true",
                    help="corpus subset, Dovecot and the data dirs on /dev/shm: no fsync, no disk — the "
                         "steady reading of CPU and the commit path when the disk's noise hides them")
    ap.add_argument("builds", nargs=2, metavar="NAME=BINARY")
    args = ap.parse_args()
    builds = [b.split("=", 1) for b in args.builds]

    files = sorted(os.path.join(args.corpus, "new", f) for f in os.listdir(os.path.join(args.corpus, "new")))
    if args.tmpfs:
        # Dovecot's mailbox takes the corpus by hard link: the subset is copied to the same tmpfs.
        shm = os.path.join("/dev/shm", f"postkorb-ab-{os.getpid()}")
        corpus = os.path.join(shm, "corpus")
        os.makedirs(os.path.join(corpus, "new"))
        shutil.copy(os.path.join(args.corpus, "senders.tsv"), corpus)
        largest = max(int(s) for s in args.sizes.split(","))
        for f in files[:largest]:
            shutil.copy(f, os.path.join(corpus, "new"))
        args.corpus, args.work = corpus, os.path.join(shm, "work")
        files = sorted(os.path.join(corpus, "new", f) for f in os.listdir(os.path.join(corpus, "new")))
        import atexit
        atexit.register(shutil.rmtree, shm, True)
    senders = [tuple(l.rstrip("\n").split("\t")) for l in open(os.path.join(args.corpus, "senders.tsv"), encoding="utf-8")]
    os.makedirs(args.work, exist_ok=True)
    bench.subprocess.run(["chown", "-R", "nobody:nogroup", args.corpus], check=True)
    dovecot = bench.Dovecot(os.path.join(args.work, "dovecot"))
    results = {}
    try:
        # One work dir per build: bench.Postkorb keeps its template and runs under it.
        tools = []
        for name, spec in builds:
            binary, _, option = spec.partition(",")
            t = bench.Postkorb(os.path.realpath(binary), os.path.join(args.work, name), dovecot, senders, 0,
                               indb="indb" in option, encryption="plain" not in option,
                               pg=os.environ["POSTKORB_TEST_POSTGRES"] if "pg" in option.split(",") else None)
            for opt in option.split(","):
                if opt.startswith("sql="):
                    # An experiment on the database before the import, e.g. FTS5 options (with
                    # `pg`: on the template database each run's database is copied from).
                    if t.pg:
                        t.psql(open(opt[4:]).read(), db=t.db_name)
                        continue
                    import sqlite3
                    db = sqlite3.connect(os.path.join(t.template, "postkorb.db"))
                    db.executescript(open(opt[4:]).read())
                    db.close()
            extra = dict(o[4:].split("=", 1) for o in option.split(",") if o.startswith("env."))
            if extra:
                # env.NAME=VALUE: an experiment's switch in a build made for it.
                base_env = t.env
                t.env = lambda d, base=base_env, extra=extra: dict(base(d), **extra)
            if "noindex" in option:
                # A build with bench/noindex.patch applied skips the search index when this is set.
                base = t.env
                t.env = lambda d, base=base: dict(base(d), POSTKORB_BENCH_NOINDEX="1")
            tools.append((name, t))
        for n in (int(s) for s in args.sizes.split(",")):
            subset = files[:n]
            bench.log(f"== {n} mails ==")
            for rep in range(args.reps):
                order = tools if rep % 2 == 0 else tools[::-1]
                for name, tool in order:
                    dovecot.load(subset)
                    wall, rss, check, out_dir = tool.run(rep, n)
                    cpu = getattr(bench.timed, "last_cpu", 0.0)
                    results.setdefault((n, name), []).append((wall, cpu))
                    bench.log(f"  {name:15s} rep {rep + 1}: {wall:7.2f} s  cpu {cpu:6.2f} s  RSS {rss / 1024:6.1f} MiB  {check}")
                    if not os.environ.get("BENCH_KEEP"):
                        bench.remove_output(out_dir)
    finally:
        dovecot.stop()
        for _, tool in tools:
            # PostgreSQL: each build's template database goes too (BENCH_KEEP keeps it).
            if tool.pg and not os.environ.get("BENCH_KEEP"):
                tool.psql(f"DROP DATABASE IF EXISTS {tool.db_name}")

    print(f"\nrepetitions per build: {args.reps}, alternating\n")
    print("| mails | build | min s | median s | median CPU s | median ÷ first build |")
    print("|---:|---|---:|---:|---:|---:|")
    for n in sorted({n for n, _ in results}):
        base = statistics.median(w for w, _ in results[(n, builds[0][0])])
        for name, _ in builds:
            walls = [w for w, _ in results[(n, name)]]
            cpus = [c for _, c in results[(n, name)]]
            med = statistics.median(walls)
            print(f"| {n:,} | {name} | {min(walls):.2f} | {med:.2f} | {statistics.median(cpus):.2f} | {med / base:.3f} |")
    # The machine drifts during a run: each repetition's pair (run back to back) compared alone.
    for n in sorted({n for n, _ in results}):
        first = results[(n, builds[0][0])]
        for name, _ in builds[1:]:
            pairs = [(w / w0, c / c0) for (w, c), (w0, c0) in zip(results[(n, name)], first)]
            walls = ", ".join(f"{w:.2f}" for w, _ in pairs)
            print(f"\n{n:,} mails, {name} ÷ {builds[0][0]} per repetition: wall {walls}; "
                  f"median wall {statistics.median(w for w, _ in pairs):.3f}, median CPU {statistics.median(c for _, c in pairs):.3f}")


if __name__ == "__main__":
    main()
