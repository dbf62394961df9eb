#!/usr/bin/env python3
"""Multi-instance (issue 19): two `postkorb serve` on one PostgreSQL share 20 mailboxes.

    bench/multi.py --corpus CORPUS [--mailboxes 20] [--mails 1000] [--reps 3] [--runs a,b,bh] [--stagger 0]
    bench/multi.py --corpus CORPUS --quick          # 4 mailboxes × 200 mails, one rep

One private Dovecot with one login per mailbox (m01 … m20, each its own INBOX filled with its own
slice of the corpus: mailbox i gets mails i·M … i·M+M−1, so no mail is a duplicate of another), one
PostgreSQL database per run (made from a template built through the CLI: bench.py's office —
recipients, every sender with routes — and one Postkorb mailbox per login; dropped after the run).
Runs, interleaved per repetition:

  a  one `serve` with the first half of the mailboxes (10 × M mails);
  b  two `serve` (same database, same key file, each its own data dir and port) with all of them
     (20 × M mails); with --stagger S the second instance starts S seconds after the first;
  bh as b, but the second starts once the first holds the first half (the rest disabled until
     then): an even split forced from outside;
  c  one `serve` with all of them: what the second instance adds.

Every run starts the instances at t0 and polls the database (psql, every 0.25 s) until every mail
is in the ledger and disposed of on the server. Reported per run: wall time (t0 → the last
disposal, `ledger.disposed_ms`), the mailboxes each instance held (`mailbox_leases.holder` carries
the pid), per mailbox the wait for a fetcher (its lease's `taken_ms` − t0) and its first import,
CPU seconds of each instance, of Dovecot (master + imap processes) and of the PostgreSQL backends
of the run's database, what those backends do on average (on CPU, waiting for a lock …, sampled
from pg_stat_activity at every poll), the machine's busy share and the load average. Checks: Vorgänge + kept = all
mails, no duplicates, every INBOX empty. Prints a table and the verdicts; writes a JSON. Numbers only.
"""

import argparse
import atexit
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench as b  # noqa: E402

TICK = os.sysconf("SC_CLK_TCK")
PG_DEFAULT = os.environ.get("POSTKORB_TEST_POSTGRES", "postgres://postgres@127.0.0.1:55432/postgres")


def login(i):
    return f"m{i + 1:02d}"


class Pg:
    """psql against the server of `url` (any database of it by name)."""

    def __init__(self, url):
        self.url = url
        self.base = url.rsplit("/", 1)[0]
        self.made = []

    def db_url(self, name):
        return f"{self.base}/{name}"

    def query(self, sql, db=None):
        url = self.db_url(db) if db else self.url
        p = subprocess.run(["psql", "-X", "-q", "-A", "-t", "-F", "\t", "-v", "ON_ERROR_STOP=1", url, "-c", sql],
                           capture_output=True, text=True)
        if p.returncode != 0:
            raise SystemExit(f"psql failed: {sql[:200]}\n{p.stderr}")
        return [line.split("\t") for line in p.stdout.splitlines() if line]

    def create(self, name, template=None):
        self.query(f"CREATE DATABASE {name}" + (f" TEMPLATE {template}" if template else ""))
        self.made.append(name)

    def drop(self, name):
        self.query(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        if name in self.made:
            self.made.remove(name)

    def drop_all(self):
        for name in reversed(list(self.made)):
            try:
                self.drop(name)
            except SystemExit as e:
                b.log(f"warning: {e}")


def cli_env(args, pg, db, data_dir, **extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith("POSTKORB_")}
    env.update(POSTKORB_DATABASE_URL=pg.db_url(db), POSTKORB_DATA_DIR=data_dir,
               POSTKORB_KEY_FILE=os.path.join(args.work, "secret.key"), **extra)
    return env


def make_templates(args, pg, senders, port, half, total):
    """Two template databases: `half` mailboxes (run a) and `total` mailboxes (run b), built with the CLI."""
    names = (f"pkmulti_{os.getpid()}_half", f"pkmulti_{os.getpid()}_full")
    setup = os.path.join(args.work, "setup")
    os.makedirs(setup, exist_ok=True)

    def runner(db):
        env = cli_env(args, pg, db, setup)

        def run(*a, stdin=None):
            p = subprocess.run([args.postkorb, *a], env=env, input=stdin, capture_output=True, text=True)
            if p.returncode != 0:
                raise SystemExit(f"postkorb {' '.join(a)} failed:\n{p.stdout}\n{p.stderr}")
        return run

    pg.create(names[0])
    run = runner(names[0])
    b.add_people(run, senders)
    for i in range(half):
        run(*b.mailbox_args(port, login(i), f"Postfach {login(i)}"), stdin=b.PASSWORD + "\n")
    pg.create(names[1], template=names[0])
    run = runner(names[1])
    for i in range(half, total):
        run(*b.mailbox_args(port, login(i), f"Postfach {login(i)}"), stdin=b.PASSWORD + "\n")
    return names


def proc_cpu(pid, children=False):
    """utime+stime (and the waited-for children's, if asked) of a process in seconds; 0 if gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    ticks = int(fields[11]) + int(fields[12]) + ((int(fields[13]) + int(fields[14])) if children else 0)
    return ticks / TICK


def tree_cpu(root):
    """CPU seconds of `root`, its exited children, and every live descendant (Dovecot's imap processes)."""
    kids = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except OSError:
                continue
            kids.setdefault(ppid, []).append(int(d))
    total, todo = 0.0, [root]
    while todo:
        pid = todo.pop()
        total += proc_cpu(pid, children=True)
        todo.extend(kids.get(pid, []))
    return total


def machine_busy():
    """(busy, total) jiffies of all cores since boot."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    idle = v[3] + v[4]
    return sum(v) - idle, sum(v)


# The run's PostgreSQL backends at one moment: running on CPU ("active: cpu"), waiting for what
# (a lock, the WAL, the client), or idle between statements.
WAITS_SQL = """
SELECT CASE WHEN state = 'active' THEN 'active' ELSE 'not active' END,
  CASE WHEN state <> 'active' THEN COALESCE(wait_event, state)
       WHEN wait_event IS NULL THEN 'cpu' ELSE wait_event_type || '/' || wait_event END,
  count(*)
FROM pg_stat_activity WHERE datname = '{db}' AND pid <> pg_backend_pid()
  AND COALESCE(application_name, '') NOT LIKE 'postkorb serve %' GROUP BY 1, 2
"""

STATE_SQL = """
SELECT m.id, m.name, COALESCE(l.holder, ''), COALESCE(l.taken_ms, 0),
  (SELECT count(*) FROM ledger g WHERE g.mailbox_id = m.id),
  (SELECT count(*) FROM ledger g WHERE g.mailbox_id = m.id AND g.disposed_ms IS NULL),
  COALESCE((SELECT min(imported_ms) FROM ledger g WHERE g.mailbox_id = m.id), 0)
FROM mailboxes m LEFT JOIN mailbox_leases l ON l.mailbox_id = m.id WHERE m.enabled = 1 ORDER BY m.name
"""


def holder_pid(holder):
    """The pid inside a lease holder id `{host}-{start}-{pid}-{random}`."""
    parts = holder.rsplit("-", 2)
    return int(parts[1]) if len(parts) == 3 and parts[1].isdigit() else None


def wait_for_leases(pg, db, n, deadline):
    """Until `n` leases are held (the first instance has taken its mailboxes)."""
    while int(pg.query("SELECT count(*) FROM mailbox_leases", db)[0][0]) < n:
        if time.time() > deadline:
            raise SystemExit("the first instance took no leases within 30 s")
        time.sleep(0.02)


def run_once(args, pg, dovecot, files, template, kind, rep, instances, mailboxes):
    db = f"pkmulti_{os.getpid()}_{kind}{rep}"
    pg.create(db, template=template)
    m = args.mails
    for i in range(mailboxes):
        dovecot.load(files[i * m:(i + 1) * m], login(i))
    subprocess.run(["sync"], check=True)
    n = mailboxes * m
    procs, logs = [], []
    dovecot_cpu0 = tree_cpu(dovecot.proc.pid)
    busy0 = machine_busy()
    t0 = time.time()
    t0_ms = int(t0 * 1000)
    try:
        second = [f"'Postfach {login(i)}'" for i in range(mailboxes // 2, mailboxes)]
        halves = kind == "bh"
        if halves:  # the first instance sees only the first half of the mailboxes when it starts
            pg.query(f"UPDATE mailboxes SET enabled = 0 WHERE name IN ({', '.join(second)})", db)
        for k in range(instances):
            if k and halves:
                wait_for_leases(pg, db, mailboxes // 2, t0 + 30)
                pg.query(f"UPDATE mailboxes SET enabled = 1 WHERE name IN ({', '.join(second)})", db)
            elif k and args.stagger:
                time.sleep(args.stagger)
            d = os.path.join(args.work, f"{kind}{rep}-instance{k + 1}")
            shutil.rmtree(d, ignore_errors=True)
            os.makedirs(d)
            env = cli_env(args, pg, db, d, POSTKORB_LISTEN=f"127.0.0.1:{b.free_port()}",
                          POSTKORB_LEASE_SECS=str(args.lease_secs),
                          POSTKORB_LOG=os.environ.get("POSTKORB_LOG", "postkorb=info,warn"))
            log = open(os.path.join(d, "serve.log"), "wb")
            logs.append(log)
            procs.append(subprocess.Popen([args.postkorb, "serve"], env=env, stdout=log, stderr=subprocess.STDOUT,
                                          stdin=subprocess.DEVNULL))
        pid_to_instance = {p.pid: k + 1 for k, p in enumerate(procs)}
        boxes = {}  # name → {holders: [instance…], taken_ms, first_import_ms}
        pg_waits, samples = {}, 0  # what the run's PostgreSQL backends were doing, summed over the polls
        deadline = time.time() + args.timeout
        while True:
            time.sleep(0.25)
            for p in procs:
                if p.poll() is not None:
                    raise SystemExit(f"serve {p.pid} exited ({p.returncode}); see {args.work}")
            rows = pg.query(STATE_SQL, db)
            for state, event, k in pg.query(WAITS_SQL.format(db=db)):
                key = f"{state}: {event}"
                pg_waits[key] = pg_waits.get(key, 0) + int(k)
            samples += 1
            done = True
            for mid, name, holder, taken, count, undisposed, first in rows:
                box = boxes.setdefault(name, {"id": int(mid), "holders": [], "taken_ms": None, "first_import_ms": None})
                if holder:
                    inst = pid_to_instance.get(holder_pid(holder), holder)
                    if not box["holders"] or box["holders"][-1] != inst:
                        box["holders"].append(inst)
                    if box["taken_ms"] is None:
                        box["taken_ms"] = int(taken)
                if int(first) and box["first_import_ms"] is None:
                    box["first_import_ms"] = int(first)
                if int(count) < m or int(undisposed):
                    done = False
            if done and len(boxes) == mailboxes:
                break
            if time.time() > deadline:
                raise SystemExit(f"{kind}{rep}: not done after {args.timeout} s: {rows}")
        cpu = [proc_cpu(p.pid) for p in procs]
        dovecot_cpu = tree_cpu(dovecot.proc.pid) - dovecot_cpu0
        busy1 = machine_busy()
        pg_cpu = sum(proc_cpu(int(r[0])) for r in pg.query(
            f"SELECT pid FROM pg_stat_activity WHERE datname = '{db}'"))
        load = os.getloadavg()
        end_ms = int(pg.query("SELECT max(disposed_ms) FROM ledger", db)[0][0])
        per_box_end = {r[0]: int(r[1]) for r in pg.query(
            "SELECT m.name, max(g.disposed_ms) FROM ledger g JOIN mailboxes m ON m.id = g.mailbox_id GROUP BY m.name", db)}
        cases, kept, dups = (int(x) for x in pg.query(
            "SELECT (SELECT count(*) FROM cases), (SELECT count(*) FROM kept), "
            "(SELECT count(*) FROM ledger WHERE outcome = 'duplicate')", db)[0])
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        for log in logs:
            log.close()
    left = sum(dovecot.count(login(i)) for i in range(mailboxes))
    if cases + kept != n or dups or left:
        raise SystemExit(f"{kind}{rep}: Vorgänge {cases} + kept {kept} ≠ {n}, duplicates {dups}, left on server {left}")
    pg.drop(db)
    if not args.keep_output:
        for k in range(instances):
            shutil.rmtree(os.path.join(args.work, f"{kind}{rep}-instance{k + 1}"), ignore_errors=True)
    wall = (end_ms - t0_ms) / 1000
    waits = {name: (box["taken_ms"] - t0_ms) / 1000 for name, box in boxes.items() if box["taken_ms"]}
    split = {}
    for name, box in boxes.items():
        for inst in box["holders"]:
            split.setdefault(str(inst), []).append(name)
    finish = {}
    for name, box in boxes.items():
        inst = str(box["holders"][-1]) if box["holders"] else "?"
        finish[inst] = max(finish.get(inst, 0.0), (per_box_end[name] - t0_ms) / 1000)
    r = {
        "kind": kind, "rep": rep, "instances": instances, "mailboxes": mailboxes, "mails": n, "wall": wall,
        "check": f"Vorgänge={cases} kept={kept} duplicates={dups} left_on_server={left}",
        "split": {k: sorted(v) for k, v in sorted(split.items())},
        "finish_s": finish,
        "wait_s": waits, "max_wait_s": max(waits.values()),
        "first_import_s": {name: (box["first_import_ms"] - t0_ms) / 1000 for name, box in boxes.items()},
        "pg_backends_mean": {k: v / max(1, samples) for k, v in sorted(pg_waits.items(), key=lambda kv: -kv[1])},
        "cpu_instances_s": cpu, "cpu_dovecot_s": dovecot_cpu, "cpu_postgres_s": pg_cpu,
        "machine_busy": (busy1[0] - busy0[0]) / max(1, busy1[1] - busy0[1]),
        "loadavg": load,
    }
    b.log(f"  {kind} rep {rep + 1}: {n:,} mails in {wall:6.2f} s; split "
          + ", ".join(f"instance {k}: {len(v)}" for k, v in r["split"].items())
          + f"; longest wait {r['max_wait_s']:.2f} s; CPU " + " + ".join(f"{c:.1f}" for c in cpu)
          + f" (Dovecot {dovecot_cpu:.1f}, PostgreSQL {pg_cpu:.1f}); busy {r['machine_busy']:.0%}; "
          + f"load {load[0]:.2f}; {r['check']}")
    return r


def med(runs, key, f=lambda v: v):
    return statistics.median(f(r[key]) for r in runs)


def print_table(res):
    runs = res["runs"]
    a = runs.get("a", [])
    reps = max((len(v) for v in runs.values()), default=0)
    print(f"\n{res['mailboxes']} mailboxes × {res['mails']:,} mails, lease {res['lease_secs']} s, "
          f"{reps} repetition(s), {os.cpu_count()} cores, stagger in b {res['stagger']} s\n")
    print("| run | instances | mailboxes × mails | wall s (median) | min–max s | mails/s | mailboxes per instance "
          "| longest wait for a fetcher s | CPU s per instance | CPU s Dovecot | CPU s PostgreSQL | "
          "machine busy | load avg (1 min) |")
    print("|---|---:|---|---:|---:|---:|---|---:|---|---:|---:|---:|---:|")
    for kind in ("a", "b", "bh", "c"):
        rs = runs.get(kind)
        if not rs:
            continue
        r0 = rs[0]
        walls = [r["wall"] for r in rs]
        splits = ", ".join(" + ".join(str(len(r["split"].get(str(k + 1), []))) for k in range(r0["instances"]))
                           for r in rs)
        cpus = " + ".join(f"{statistics.median(r['cpu_instances_s'][k] for r in rs):.1f}"
                          for k in range(r0["instances"]))
        print(f"| {kind} | {r0['instances']} | {r0['mailboxes']} × {res['mails']:,} | {statistics.median(walls):.2f} | "
              f"{min(walls):.2f}–{max(walls):.2f} | {r0['mails'] / statistics.median(walls):,.0f} | {splits} | "
              f"{max(r['max_wait_s'] for r in rs):.2f} | {cpus} | {med(rs, 'cpu_dovecot_s'):.1f} | "
              f"{med(rs, 'cpu_postgres_s'):.1f} | {med(rs, 'machine_busy'):.0%} | "
              f"{med(rs, 'loadavg', lambda v: v[0]):.2f} |")
    for kind in ("a", "b", "bh", "c"):
        rs = [r for r in runs.get(kind, []) if "pg_backends_mean" in r]
        if rs:
            keys = sorted({k for r in rs for k in r["pg_backends_mean"] if k.startswith("active")},
                          key=lambda k: -statistics.median(r["pg_backends_mean"].get(k, 0) for r in rs))
            print(f"{kind}: PostgreSQL backends busy on average (median of the runs): " + ", ".join(
                f"{k.split(': ', 1)[1]} {statistics.median(r['pg_backends_mean'].get(k, 0) for r in rs):.2f}"
                for k in keys[:6]))
    if not a:
        return
    cores = os.cpu_count()
    wall_a = med(a, "wall")
    cpu = {k: med(rs, "cpu_instances_s", sum) + med(rs, "cpu_dovecot_s") + med(rs, "cpu_postgres_s")
           for k, rs in runs.items()}
    print(f"\nCPU s of Postkorb + Dovecot + PostgreSQL (medians): " + ", ".join(f"{k} {v:.1f}" for k, v in cpu.items()))
    for kind in ("b", "bh", "c"):
        rs = runs.get(kind)
        if not rs:
            continue
        ratio = med(rs, "wall") / wall_a
        wait = max(r["max_wait_s"] for r in rs)
        print(f"{kind} ÷ a wall time: {ratio:.2f} (target ≤ 1.2: {'met' if ratio <= 1.2 else 'missed'}); "
              f"longest wait for a fetcher {wait:.2f} s (target ≤ lease {res['lease_secs']} s: "
              f"{'met' if wait <= res['lease_secs'] else 'missed'}); its CPU alone needs ≥ {cpu[kind] / cores:.1f} s "
              f"on {cores} cores = {cpu[kind] / cores / wall_a:.2f}× a; ≤ 1.2× a needs ≥ "
              f"{cpu[kind] / (1.2 * wall_a):.1f} cores busy all the time")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", required=True, help="Maildir from gen_corpus.py with senders.tsv")
    ap.add_argument("--postkorb", default=os.path.join(b.REPO, "target", "release", "postkorb"))
    ap.add_argument("--postgres", default=PG_DEFAULT, help="URL of a database on the server to use (default: "
                    "POSTKORB_TEST_POSTGRES); the runs create and drop their own databases there")
    ap.add_argument("--mailboxes", type=int, default=20, help="mailboxes of run b (run a has half of them)")
    ap.add_argument("--mails", type=int, default=1000, help="mails per mailbox")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--runs", default="a,b,bh", help="a: one instance, half the mailboxes; b: two instances, "
                    "all mailboxes, started together, each takes what it gets (Postkorb as it is); bh: as b, but "
                    "the first instance starts seeing only the first half of the mailboxes (the rest disabled in "
                    "the database), the second once the first holds them and they are enabled again — what an "
                    "even split gives; c: one instance with all the mailboxes (what the second instance adds)")
    ap.add_argument("--stagger", type=float, default=0.0, help="seconds between the two instances' starts in b")
    ap.add_argument("--lease-secs", type=int, default=60, help="the lease period (Postkorb's default: 60)")
    ap.add_argument("--quick", action="store_true", help="4 mailboxes × 200 mails, one repetition")
    ap.add_argument("--timeout", type=int, default=1800)
    ap.add_argument("--work", default=os.path.join(b.HERE, "out", "multi"))
    ap.add_argument("--results", default=None, help="JSON of the results (default: WORK/multi.json)")
    ap.add_argument("--keep-output", action="store_true", help="keep the instances' data dirs and logs")
    args = ap.parse_args()
    if args.quick:
        args.mailboxes, args.mails, args.reps = 4, 200, 1
    args.postkorb = os.path.abspath(args.postkorb)
    args.results = args.results or os.path.join(args.work, "multi.json")

    files = sorted(os.path.join(args.corpus, "new", f) for f in os.listdir(os.path.join(args.corpus, "new")))
    if args.mailboxes * args.mails > len(files):
        raise SystemExit(f"the corpus has {len(files)} mails, fewer than {args.mailboxes} × {args.mails}")
    senders = [tuple(l.rstrip("\n").split("\t")) for l in open(os.path.join(args.corpus, "senders.tsv"), encoding="utf-8")]
    os.makedirs(args.work, exist_ok=True)
    subprocess.run(["chown", "-R", "nobody:nogroup", args.corpus], check=True)
    pg = Pg(args.postgres)
    atexit.register(pg.drop_all)
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, lambda *_: sys.exit(1))
    dovecot = b.Dovecot(os.path.join(args.work, "dovecot"), users=[login(i) for i in range(args.mailboxes)])
    half = args.mailboxes // 2
    res = {"mailboxes": args.mailboxes, "mails": args.mails, "lease_secs": args.lease_secs, "stagger": args.stagger,
           "corpus": os.path.abspath(args.corpus), "runs": {}}
    try:
        tpl_half, tpl_full = make_templates(args, pg, senders, dovecot.port, half, args.mailboxes)
        kinds = args.runs.split(",")
        for rep in range(args.reps):
            for kind in kinds:
                if kind == "a":
                    r = run_once(args, pg, dovecot, files, tpl_half, "a", rep, 1, half)
                elif kind == "c":
                    r = run_once(args, pg, dovecot, files, tpl_full, "c", rep, 1, args.mailboxes)
                elif kind in ("b", "bh"):
                    r = run_once(args, pg, dovecot, files, tpl_full, kind, rep, 2, args.mailboxes)
                else:
                    raise SystemExit(f"unknown run {kind}")
                res["runs"].setdefault(kind, []).append(r)
                with open(args.results, "w") as f:
                    json.dump(res, f, indent=1)
    finally:
        dovecot.stop()
        pg.drop_all()
    print_table(res)


if __name__ == "__main__" and len(sys.argv) > 2 and sys.argv[1] == "--table":
    print_table(json.load(open(sys.argv[2])))
elif __name__ == "__main__":
    main()
