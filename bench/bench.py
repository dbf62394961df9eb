#!/usr/bin/env python3
"""Bulk-import benchmark: Postkorb vs mbsync (fsync / no fsync) vs a Python importer, same Dovecot,
same corpus, same run. Called by bench/run.sh (which installs the tools and builds Postkorb).

Every run starts from the same state: the user's Maildir is rebuilt from the corpus (hard links,
flags ":2,"), Dovecot indexes it (a warm-up SELECT + FETCH of sizes), `sync`, then the timed command.
"""

import argparse
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import time
import imaplib

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
USER, PASSWORD = "bench", "bench-pass-2026"
RECIPIENTS = [("Bernd Berater", "bernd", "TAU-0002"), ("Clara Sachbearbeiterin", "clara", "TAU-0003"),
              ("Dora Innendienst", "dora", "TAU-0004")]


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def remove_output(path):
    """Removes a run's output and, when it held many files, waits until the next run no longer
    pays for them: on an ext4 without a journal (this VM's disk) the kernel checks every inode it
    is about to give a new file against those deleted in the last 60 s — 360 s while the inode
    table's block is not yet written back — and skips them, one buffer lookup each
    (`recently_deleted` in fs/ext4/ialloc.c). Removing a run's 10,000 files right before the next
    run can charge that run, of whichever tool, a scan over them for every file it creates, when
    its directories land in the same block group (perf: a third of Postkorb's CPU in one import of
    2,000 mails; mbsync writes a file per mail too). So: remove,
    `sync` (the blocks written: 60 s), wait until 61 s have passed — not on tmpfs (ab.py --tmpfs).
    BENCH_NO_SETTLE=1 skips the wait (a quick look)."""
    files = sum(len(f) for _, _, f in os.walk(path))
    shutil.rmtree(path, ignore_errors=True)
    if files < 100 or os.path.realpath(path).startswith("/dev/shm/") or os.environ.get("BENCH_NO_SETTLE"):
        return
    done = time.monotonic()
    subprocess.run(["sync"], check=True)
    time.sleep(max(0.0, 61 - (time.monotonic() - done)))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Dovecot:
    """A private Dovecot on a free loopback port (the approach of crates/testkit, as shell/config)."""

    def __init__(self, root, users=(USER,)):
        self.root = root
        self.users = list(users)
        if os.path.exists(root):
            shutil.rmtree(root)
        for sub in ("run", "state", "mail", "home"):
            os.makedirs(os.path.join(root, sub))
        os.chmod(root, 0o755)
        subprocess.run(["chown", "nobody:nogroup", os.path.join(root, "mail"), os.path.join(root, "home")], check=True)
        with open(os.path.join(root, "passwd"), "w") as f:
            f.writelines(f"{u}:{{PLAIN}}{PASSWORD}::::::\n" for u in self.users)
        os.chmod(os.path.join(root, "passwd"), 0o644)
        self.port = free_port()
        pop3 = free_port()
        conf = f"""# Private benchmark instance written by bench/bench.py
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
info_log_path = {root}/dovecot.log
listen = 127.0.0.1
protocols = imap
first_valid_uid = 1
ssl = no
auth_mechanisms = plain login
disable_plaintext_auth = no
auth_failure_delay = 0
mail_location = maildir:{root}/mail/%u
mail_fsync = optimized
namespace inbox {{
  inbox = yes
  separator = /
}}
passdb {{
  driver = passwd-file
  args = {root}/passwd
}}
userdb {{
  driver = static
  args = uid=nobody gid=nogroup home={root}/home/%u
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {self.port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service pop3-login {{
  inet_listener pop3 {{
    port = {pop3}
  }}
}}
"""
        self.conf = os.path.join(root, "dovecot.conf")
        with open(self.conf, "w") as f:
            f.write(conf)
        self.proc = subprocess.Popen(["dovecot", "-F", "-c", self.conf], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        deadline = time.time() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                break
            except OSError:
                if time.time() > deadline or self.proc.poll() is not None:
                    raise SystemExit("dovecot did not start:\n" + self.log())
                time.sleep(0.1)
        log(f"dovecot {self.proc.pid} on 127.0.0.1:{self.port} ({root})")

    def log(self):
        try:
            return open(os.path.join(self.root, "dovecot.log")).read()[-4000:]
        except OSError:
            return ""

    def maildir(self, user=USER):
        return os.path.join(self.root, "mail", user)

    def load(self, files, user=USER):
        """Rebuilds the INBOX (of `user`) from corpus files (hard links) and lets Dovecot index it."""
        md = self.maildir(user)
        if os.path.exists(md):
            shutil.rmtree(md)
        for sub in ("cur", "new", "tmp"):
            os.makedirs(os.path.join(md, sub))
        for src in files:
            os.link(src, os.path.join(md, "cur", os.path.basename(src) + ":2,"))
        subprocess.run(["chown", "-R", "nobody:nogroup", md], check=True)
        n = self.warm(user)
        if n != len(files):
            raise SystemExit(f"INBOX has {n} messages, expected {len(files)}")
        subprocess.run(["sync"], check=True)

    def imap(self, user=USER):
        c = imaplib.IMAP4("127.0.0.1", self.port)
        c.login(user, PASSWORD)
        return c

    def warm(self, user=USER):
        c = self.imap(user)
        typ, data = c.select("INBOX")
        n = int(data[0])
        if n:
            c.fetch("1:*", "(UID RFC822.SIZE)")
        c.logout()
        return n

    def count(self, user=USER):
        c = self.imap(user)
        typ, data = c.status("INBOX", "(MESSAGES)")
        c.logout()
        return int(data[0].split()[-1].rstrip(b")"))

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=20)


def timed(cmd, env=None, stdin=None):
    """Runs cmd under /usr/bin/time -v; returns (wall seconds, peak RSS KiB, stdout, stderr)."""
    t0 = time.monotonic()
    p = subprocess.run(["/usr/bin/time", "-v"] + cmd, env=env, input=stdin, capture_output=True, text=True)
    wall = time.monotonic() - t0
    if p.returncode != 0:
        raise SystemExit(f"{cmd[0]} failed ({p.returncode}):\n{p.stdout[-3000:]}\n{p.stderr[-3000:]}")
    rss = 0
    cpu = 0.0
    for line in p.stderr.splitlines():
        if "Maximum resident set size" in line:
            rss = int(line.split(":")[1])
        if "User time (seconds)" in line or "System time (seconds)" in line:
            cpu += float(line.split(":")[1])
    timed.last_cpu = cpu
    if os.environ.get("BENCH_STDERR"):  # e.g. with POSTKORB_LOG=postkorb_app::service::importer=debug: stage times
        with open(os.environ["BENCH_STDERR"], "w") as f:
            f.write(p.stderr)
    return wall, rss, p.stdout, p.stderr


def add_people(run, senders):
    """The benchmark's office through the CLI (`run(*args)`): three recipients with licences, every
    sender of the corpus as an employee with routes to two or three of them."""
    for name, username, lic in RECIPIENTS:
        run("employee", "add", "--name", name, "--username", username, "--license", lic)
    for i, (name, addr) in enumerate(senders):
        run("employee", "add", "--name", name, "--email", addr)
        for _, username, _ in RECIPIENTS[: 2 + i % 2]:
            run("route", "add", "--from", name, "--to", username)


def mailbox_args(port, user=USER, name="default"):
    """`postkorb mailbox set` arguments for `user`'s INBOX on the private Dovecot (password on stdin)."""
    return ["mailbox", "set", "--name", name, "--protocol", "imap", "--host", "127.0.0.1", "--port", str(port),
            "--tls", "none", "--username", user, "--password-stdin", "--disposal", "delete", "--verify", "off",
            # The storm limit (default: >30 Vorgänge per sender in 10 min are held as kept mail) would
            # turn a bulk import of old mail into 90 % kept mail; an office importing its backlog
            # switches it off, and so does the benchmark.
            "--storm-max", "0"]


class Postkorb:
    """postkorb: the embedded default (SQLite; raw mails as files in DATA_DIR/blobs, one syncfs per
    batch before its commit). postkorb-indb: the same with blob_dir = "" (raw mails inside SQLite)."""

    def __init__(self, binary, work, dovecot, senders, batch_size, indb=False, encryption=True, pg=None):
        self.binary, self.work, self.dovecot = binary, work, dovecot
        self.indb = indb
        # pg: a PostgreSQL server's URL (…/postgres): each run gets a fresh database copied from a
        # template database (raw mails in the database, PostgreSQL's default), dropped after it.
        self.pg = pg
        self.name = ("postkorb-indb" if indb else "postkorb") + ("" if encryption else "-plain") + ("-pg" if pg else "")
        self.db_name = None
        self.label = ("Postkorb fetch --once (IMAP, parse, route, SQLite FULL, delete)" +
                      (", raw mails inside SQLite (blob_dir = \"\")" if indb else ", raw mails as files (default)"))
        self.template = os.path.join(work, f"{self.name}-template")
        self.batch_size = batch_size
        if os.path.exists(self.template):
            shutil.rmtree(self.template)
        os.makedirs(self.template)
        if pg:
            # Named after the work directory and its parent: two builds compared (ab.py) get their
            # own, and a run under another --work does not drop a kept (BENCH_KEEP) database.
            parent = os.path.basename(os.path.dirname(os.path.abspath(work)))
            self.db_base = re.sub(r"\W", "_", f"{parent}_{os.path.basename(work)}_{self.name}").lower()
            self.db_name = f"{self.db_base}_template"
            self.psql(f"DROP DATABASE IF EXISTS {self.db_name}", f"CREATE DATABASE {self.db_name}")
        env = self.env(self.template)
        run = lambda *a, stdin=None: subprocess.run([binary, *a], env=env, input=stdin, check=True,
                                                    capture_output=True, text=True)
        add_people(run, senders)
        run(*mailbox_args(dovecot.port), stdin=PASSWORD + "\n")
        # Encryption at rest is on for a new installation (issue 18); off: mails stored plain.
        if not encryption:
            run("encryption", "off")

    def env(self, data_dir):
        env = dict(os.environ, POSTKORB_DATA_DIR=data_dir, RUST_LOG=os.environ.get("RUST_LOG", "warn"))
        # The default keeps raw mails in DATA_DIR/blobs; "" keeps them inside SQLite.
        env["POSTKORB_BLOB_DIR"] = "" if self.indb or self.pg else os.path.join(data_dir, "blobs")
        if self.pg:
            env["POSTKORB_DATABASE_URL"] = self.pg.rsplit("/", 1)[0] + "/" + self.db_name
        if self.batch_size:
            conf = os.path.join(self.work, f"postkorb-batch{self.batch_size}.toml")
            with open(conf, "w") as f:
                f.write(f"batch_size = {self.batch_size}\n")
            env["POSTKORB_CONFIG"] = conf
        return env

    def run(self, i, n):
        d = os.path.join(self.work, f"{self.name}-run{i}")
        if os.path.exists(d):
            shutil.rmtree(d)
        shutil.copytree(self.template, d)
        # BENCH_PK_PREFIX, e.g. "perf record -F 499 -g -o bench/out/perf.data": profile the timed run.
        prefix = os.environ.get("BENCH_PK_PREFIX", "").split()
        if self.pg:
            template, self.db_name = self.db_name, f"{self.db_base}_run"
            self.psql(f"DROP DATABASE IF EXISTS {self.db_name}", f"CREATE DATABASE {self.db_name} TEMPLATE {template}")
            try:
                # The stored password is bound to the database it was entered in: entered again.
                subprocess.run([self.binary, *mailbox_args(self.dovecot.port)], env=self.env(d), input=PASSWORD + "\n",
                               check=True, capture_output=True, text=True)
                wall, rss, out, err = timed(prefix + [self.binary, "fetch", "--once"], env=self.env(d))
                counts = self.psql("SELECT (SELECT count(*) FROM cases) || ' ' || (SELECT count(*) FROM kept)", db=self.db_name)
                cases, kept = (int(x) for x in counts.split())
            finally:
                if not os.environ.get("BENCH_KEEP"):
                    self.psql(f"DROP DATABASE IF EXISTS {self.db_name}")
                self.db_name = template
        else:
            wall, rss, out, err = timed(prefix + [self.binary, "fetch", "--once"], env=self.env(d))
            import sqlite3
            db = sqlite3.connect(os.path.join(d, "postkorb.db"))
            cases = db.execute("SELECT count(*) FROM cases").fetchone()[0]
            kept = db.execute("SELECT count(*) FROM kept").fetchone()[0]
            db.close()
        left = self.dovecot.count()
        check = f"cases={cases} kept={kept} left_on_server={left}"
        if cases + kept != n or left != 0:
            raise SystemExit(f"postkorb imported wrong: {check}, expected {n}\n{out[-2000:]}\n{err[-2000:]}")
        return wall, rss, check, d


    def psql(self, *statements, db=None):
        """Runs statements on the PostgreSQL server of `pg` (each alone: CREATE DATABASE cannot
        run in a transaction); returns the last one's output."""
        url = self.pg if db is None else self.pg.rsplit("/", 1)[0] + "/" + db
        out = ""
        for sql in statements:
            out = subprocess.run(["psql", "-qAtX", url, "-c", sql], check=True, capture_output=True, text=True).stdout
        return out.strip()


class Mbsync:
    def __init__(self, work, dovecot, fsync):
        self.work, self.dovecot, self.fsync = work, dovecot, fsync
        self.name = "mbsync" if fsync else "mbsync-nofsync"
        self.label = "mbsync (isync) to a Maildir, " + ("FSync yes (default)" if fsync else "FSync no")

    def run(self, i, n):
        d = os.path.join(self.work, f"{self.name}-run{i}")
        if os.path.exists(d):
            shutil.rmtree(d)
        os.makedirs(os.path.join(d, "mail"))
        conf = os.path.join(d, "mbsyncrc")
        with open(conf, "w") as f:
            f.write(f"""FSync {"yes" if self.fsync else "no"}

IMAPAccount bench
Host 127.0.0.1
Port {self.dovecot.port}
User {USER}
Pass {PASSWORD}
SSLType None
AuthMechs LOGIN

IMAPStore remote
Account bench

MaildirStore local
Path {d}/mail/
Inbox {d}/mail/INBOX

Channel bench
Far :remote:
Near :local:
Patterns INBOX
Sync Pull
Create Near
Expunge None
SyncState *
""")
        wall, rss, out, err = timed(["mbsync", "-q", "-c", conf, "bench"])
        got = sum(len(os.listdir(os.path.join(d, "mail", "INBOX", s))) for s in ("cur", "new"))
        if got != n:
            raise SystemExit(f"mbsync copied {got}, expected {n}\n{err[-2000:]}")
        return wall, rss, f"copied={got}", d


class PyImporter:
    name = "python"
    label = "Python imaplib + email + sqlite3 (commit per mail, delete)"

    def __init__(self, work, dovecot, batch):
        self.work, self.dovecot, self.batch = work, dovecot, batch

    def run(self, i, n):
        d = os.path.join(self.work, f"python-run{i}")
        if os.path.exists(d):
            shutil.rmtree(d)
        os.makedirs(d)
        wall, rss, out, err = timed([sys.executable, os.path.join(HERE, "py_importer.py"), "--port",
                                     str(self.dovecot.port), "--user", USER, "--password-stdin", "--db",
                                     os.path.join(d, "import.sqlite"), "--batch", str(self.batch)],
                                    stdin=PASSWORD + "\n")
        left = self.dovecot.count()
        if left != 0:
            raise SystemExit(f"python importer left {left} on the server\n{err}")
        return wall, rss, next((l for l in err.splitlines() if l.startswith("py_importer:")), "?"), d


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", required=True, help="Maildir from gen_corpus.py (its new/ is used, sorted)")
    ap.add_argument("--sizes", default="1000,10000")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--tools", default="postkorb,postkorb-indb,mbsync,mbsync-nofsync,python")
    ap.add_argument("--postkorb", default=os.path.join(REPO, "target", "release", "postkorb"))
    ap.add_argument("--batch-size", type=int, default=0, help="Postkorb batch_size via a settings file (0: Postkorb's default, 100)")
    ap.add_argument("--work", default=os.path.join(HERE, "out", "work"))
    ap.add_argument("--results", default=os.path.join(HERE, "out", "results.json"))
    ap.add_argument("--keep-output", action="store_true", help="keep each run's output directory")
    args = ap.parse_args()

    files = sorted(os.path.join(args.corpus, "new", f) for f in os.listdir(os.path.join(args.corpus, "new")))
    sizes = [int(s) for s in args.sizes.split(",")]
    if max(sizes) > len(files):
        raise SystemExit(f"corpus has {len(files)} mails, asked for {max(sizes)}")
    senders = [tuple(l.rstrip("\n").split("\t")) for l in open(os.path.join(args.corpus, "senders.tsv"), encoding="utf-8")]
    os.makedirs(args.work, exist_ok=True)
    # Hard links into Dovecot's maildir share the inode: give the corpus to Dovecot's user once.
    subprocess.run(["chown", "-R", "nobody:nogroup", args.corpus], check=True)

    dovecot = Dovecot(os.path.join(args.work, "dovecot"))
    tools = []
    try:
        for t in args.tools.split(","):
            if t in ("postkorb", "postkorb-indb"):
                tools.append(Postkorb(args.postkorb, args.work, dovecot, senders, args.batch_size,
                                      indb=t == "postkorb-indb"))
            elif t == "mbsync":
                tools.append(Mbsync(args.work, dovecot, True))
            elif t == "mbsync-nofsync":
                tools.append(Mbsync(args.work, dovecot, False))
            elif t == "python":
                tools.append(PyImporter(args.work, dovecot, 1))
            else:
                raise SystemExit(f"unknown tool {t}")
        results = {"sizes": {}, "labels": {t.name: t.label for t in tools}, "reps": args.reps,
                   "corpus": os.path.abspath(args.corpus)}
        for n in sizes:
            subset = files[:n]
            nbytes = sum(os.path.getsize(f) for f in subset)
            res = {"bytes": nbytes, "tools": {}}
            results["sizes"][str(n)] = res
            log(f"== {n} mails, {nbytes / 1e9:.3f} GB ==")
            # Interleave the tools (rep-major), so slow drift of the machine hits every tool alike.
            for rep in range(args.reps):
                for t in tools:
                    dovecot.load(subset)
                    wall, rss, check, out_dir = t.run(rep, n)
                    r = res["tools"].setdefault(t.name, {"wall": [], "rss_kib": [], "check": [], "cpu": []})
                    r["wall"].append(wall)
                    r["cpu"].append(getattr(timed, "last_cpu", 0.0))
                    r["rss_kib"].append(rss)
                    r["check"].append(check)
                    log(f"  {t.name:15s} rep {rep + 1}: {wall:8.2f} s  cpu {getattr(timed, 'last_cpu', 0.0):6.2f} s  peak RSS {rss / 1024:7.1f} MiB  {check}")
                    if not args.keep_output:
                        remove_output(out_dir)
            with open(args.results, "w") as f:
                json.dump(results, f, indent=1)
    finally:
        dovecot.stop()
    print_table(results)


def print_table(results):
    sizes = sorted(results["sizes"], key=int)
    print()
    print(f"repetitions per cell: {results['reps']} (same initial mailbox state each time)")
    print()
    print("| mails | GB | tool | min s | median s | ms/mail (median) | peak RSS MiB | Postkorb ÷ tool (median) |")
    print("|---:|---:|---|---:|---:|---:|---:|---:|")
    for n in sizes:
        res = results["sizes"][n]
        pk = res["tools"].get("postkorb")
        pk_med = statistics.median(pk["wall"]) if pk else None
        for name, r in res["tools"].items():
            med = statistics.median(r["wall"])
            ratio = f"{pk_med / med:.2f}×" if pk_med else "–"
            print(f"| {int(n):,} | {res['bytes'] / 1e9:.3f} | {name} | {min(r['wall']):.2f} | {med:.2f} | "
                  f"{med / int(n) * 1000:.2f} | {max(r['rss_kib']) / 1024:.0f} | {ratio} |")
    for pk_name in ("postkorb", "postkorb-indb"):
        if len(sizes) >= 2 and all(pk_name in results["sizes"][n]["tools"] for n in sizes):
            a, b = sizes[0], sizes[-1]
            pa = statistics.median(results["sizes"][a]["tools"][pk_name]["wall"]) / int(a)
            pb = statistics.median(results["sizes"][b]["tools"][pk_name]["wall"]) / int(b)
            print(f"\n{pk_name}: time per mail at {int(b):,} ÷ at {int(a):,}: {pb / pa:.2f} (target ≤ 1.2)")
        n = sizes[-1]
        t = results["sizes"][n]["tools"]
        if pk_name in t:
            pk = statistics.median(t[pk_name]["wall"])
            if "mbsync" in t:
                print(f"{pk_name} ÷ mbsync (fsync) at {int(n):,}: {pk / statistics.median(t['mbsync']['wall']):.2f} (target ≤ 1.0)")
            if "python" in t:
                print(f"Python ÷ {pk_name} at {int(n):,}: {statistics.median(t['python']['wall']) / pk:.2f} (target ≥ 8)")
            print(f"{pk_name} peak RSS at {int(n):,}: {max(t[pk_name]['rss_kib']) / 1024:.0f} MiB (target ≤ 150 MB)")


if __name__ == "__main__" and len(sys.argv) > 1 and sys.argv[1] == "--table":
    print_table(json.load(open(sys.argv[2])))
elif __name__ == "__main__":
    main()
