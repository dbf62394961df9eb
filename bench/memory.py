#!/usr/bin/env python3
"""Memory of `postkorb serve` while it imports (issue 6): peak RSS (VmHWM) of the serve process.

  1. the whole corpus (default 10,000 mails) imported by `serve` from the private Dovecot;
  2. a small mailbox (default 200 mails of the corpus), then the same mailbox plus one mail of
     25 MB (a mapped sender, a 18.7 MB attachment in base64): how much the single large mail
     raises the peak, as a multiple of its size (target: at most 4x).

Every run: a fresh copy of the benchmark's data dir (employees, routes, the IMAP mailbox: see
bench.py), the INBOX rebuilt from the corpus, `postkorb serve` started, the database polled until
every mail is a Vorgang or kept mail and the INBOX is empty, then VmHWM read from
/proc/PID/status before serve is stopped. Prints a table; numbers only, no pass/fail.

  bench/memory.py --corpus bench/out/corpus-seed6-10000 [--full 10000] [--small 200] [--big-mb 25]
"""

import argparse
import datetime
import os
import random
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench as b  # noqa: E402


def big_mail(path, sender, size_mb, seed=25):
    """A mail of `size_mb` MB from `sender`: text plus one base64 attachment of random bytes."""
    rnd = random.Random(seed)
    import base64
    raw_len = int(size_mb * 1_000_000 * 3 / 4 * 76 / 78)  # base64 + CRLF per 76 characters
    data = rnd.randbytes(raw_len)
    b64 = base64.encodebytes(data).replace(b"\n", b"\r\n")
    head = (f"From: Großer Anhang <{sender}>\r\nTo: postkorb@example.de\r\nSubject: Schadenfotos komplett\r\n"
            f"Date: Mon, 02 Nov 2026 09:00:00 +0100\r\nMessage-ID: <big-{seed}@bench>\r\nMIME-Version: 1.0\r\n"
            "Content-Type: multipart/mixed; boundary=\"big\"\r\n\r\n--big\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
            "Anbei alle Fotos vom Schaden.\r\n--big\r\nContent-Type: application/zip; name=\"fotos.zip\"\r\n"
            "Content-Disposition: attachment; filename=\"fotos.zip\"\r\nContent-Transfer-Encoding: base64\r\n\r\n").encode()
    with open(path, "wb") as f:
        f.write(head + b64 + b"--big--\r\n")
    os.chmod(path, 0o644)
    return os.path.getsize(path)


def vm_hwm_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def first_pass_start(log_path):
    """Wall-clock seconds of the importer's first `pass: start` in serve's log (its `arrival` debug
    events), or None."""
    with open(log_path, encoding="utf-8", errors="replace") as f:
        for line in f:
            m = PASS_START.match(ANSI.sub("", line))
            if m:
                head, frac = m.group(1).split(".")
                t = datetime.datetime.strptime(head, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=datetime.timezone.utc)
                return t.timestamp() + float("0." + frac)
    return None


ANSI = re.compile(r"\x1b\[[0-9;]*m")
PASS_START = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+)Z\s+DEBUG\s+arrival:\s+pass: start")


def serve_import(pk, dovecot, files, tag, timeout=1800, stats=None):
    """`stats`, a dict if given, gets the CPU seconds of serve and of Dovecot (its master, the exited
    imap processes and the live ones) from serve's start to the last mail, and `import_s`: the
    seconds from the importer's first pass (serve's start, its database and web server, left out)
    to the last mail, found by polling every 20 ms once the mails are nearly all in."""
    from multi import proc_cpu, tree_cpu  # noqa: PLC0415 (multi imports bench, as this does)
    d = os.path.join(pk.work, f"memory-{tag}")
    if os.path.exists(d):
        shutil.rmtree(d)
    shutil.copytree(pk.template, d)
    dovecot.load(files)
    env = pk.env(d)
    env["POSTKORB_LISTEN"] = f"127.0.0.1:{b.free_port()}"
    # The importer's passes in the log, for `import_s` (a few lines per batch, into a file).
    env["POSTKORB_LOG"] = "arrival=debug,postkorb=info,warn"
    log_path = os.path.join(d, "serve.log")
    log = open(log_path, "wb")
    dovecot_cpu0 = tree_cpu(dovecot.proc.pid)
    t0 = time.monotonic()
    proc = subprocess.Popen([pk.binary, "serve"], env=env, stdout=subprocess.DEVNULL, stderr=log)
    n, done, hwm = len(files), 0, 0
    try:
        db = os.path.join(d, "postkorb.db")
        near = 0
        while time.monotonic() - t0 < timeout:
            # Finely near the end (and for a short run), so the end is found within 20 ms.
            time.sleep(0.02 if near >= n * 0.97 or n <= 5000 else 0.25)
            if proc.poll() is not None:
                log.flush()
                with open(log_path, "rb") as f:
                    raise SystemExit(f"serve exited: {f.read().decode('utf-8', 'replace')[-3000:]}")
            hwm = max(hwm, vm_hwm_kib(proc.pid))
            try:
                c = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
                # While far from done, only the highest ids (two index lookups): counting the rows
                # and scanning the ledger four times a second grew with the rows and took a share of
                # the two cores from the import it measures (several % at 100,000 mails).
                near = c.execute("SELECT COALESCE((SELECT max(id) FROM cases), 0) + "
                                 "COALESCE((SELECT max(id) FROM kept), 0)").fetchone()[0]
                if near >= n:
                    done = c.execute("SELECT (SELECT count(*) FROM cases) + (SELECT count(*) FROM kept)").fetchone()[0]
                    undisposed = c.execute("SELECT count(*) FROM ledger WHERE disposed_ms IS NULL").fetchone()[0]
                else:
                    done, undisposed = 0, 1
                c.close()
            except sqlite3.Error:
                continue
            if done >= n and undisposed == 0:
                break
        else:
            raise SystemExit(f"{tag}: only {done} of {n} mails imported after {timeout} s")
        wall = time.monotonic() - t0
        end_wall = time.time()
        hwm = max(hwm, vm_hwm_kib(proc.pid))
        if stats is not None:
            stats.update(serve_cpu=proc_cpu(proc.pid), dovecot_cpu=tree_cpu(dovecot.proc.pid) - dovecot_cpu0)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
    if stats is not None:
        first = first_pass_start(log_path)
        stats["import_s"] = end_wall - first if first is not None else wall
    left = dovecot.count()
    if done != n or left != 0:
        raise SystemExit(f"{tag}: imported {done} of {n}, {left} left on the server")
    if not os.environ.get("BENCH_KEEP"):  # BENCH_KEEP=1 keeps the data dir to look into
        shutil.rmtree(d, ignore_errors=True)
    b.log(f"  {tag}: {n} mails in {wall:.1f} s, peak RSS {hwm / 1024:.1f} MiB")
    return wall, hwm


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", required=True)
    ap.add_argument("--postkorb", default=os.path.join(b.REPO, "target", "release", "postkorb"))
    ap.add_argument("--full", type=int, default=10000, help="mails of the full run (0: skip it)")
    ap.add_argument("--small", type=int, default=200, help="mails of the small mailbox")
    ap.add_argument("--big-mb", type=float, default=25.0, help="size of the single large mail in MB")
    ap.add_argument("--reps", type=int, default=1, help="repetitions of the small/small+big pair")
    ap.add_argument("--indb", action="store_true", help='serve with blob_dir = "" (raw mails inside SQLite)')
    ap.add_argument("--work", default=os.path.join(b.HERE, "out", "work"))
    args = ap.parse_args()

    files = sorted(os.path.join(args.corpus, "new", f) for f in os.listdir(os.path.join(args.corpus, "new")))
    senders = [tuple(l.rstrip("\n").split("\t")) for l in open(os.path.join(args.corpus, "senders.tsv"), encoding="utf-8")]
    os.makedirs(args.work, exist_ok=True)
    subprocess.run(["chown", "-R", "nobody:nogroup", args.corpus], check=True)
    big_dir = os.path.join(args.work, "bigmail")
    os.makedirs(big_dir, exist_ok=True)
    big = os.path.join(big_dir, "9999999999.M1P1Q1.bench")
    big_bytes = big_mail(big, senders[0][1], args.big_mb)
    subprocess.run(["chown", "nobody:nogroup", big], check=True)

    dovecot = b.Dovecot(os.path.join(args.work, "dovecot"))
    rows = []
    try:
        pk = b.Postkorb(os.path.abspath(args.postkorb), args.work, dovecot, senders, 0, indb=args.indb)
        if args.full:
            wall, hwm = serve_import(pk, dovecot, files[: args.full], f"full{args.full}")
            rows.append((f"serve imports {args.full:,} mails", wall, hwm))
        for rep in range(args.reps):
            w0, h0 = serve_import(pk, dovecot, files[: args.small], f"small{rep}")
            w1, h1 = serve_import(pk, dovecot, files[: args.small] + [big], f"big{rep}")
            rows.append((f"serve imports {args.small} mails", w0, h0))
            rows.append((f"serve imports {args.small} mails + one of {big_bytes / 1e6:.1f} MB", w1, h1))
            raise_mb = (h1 - h0) * 1024 / 1e6
            rows.append((f"→ raise by the large mail: {raise_mb:.1f} MB = {raise_mb * 1e6 / big_bytes:.2f}× its size "
                         "(target ≤ 4×)", None, None))
    finally:
        dovecot.stop()
    print("\n| run | wall s | peak RSS MiB | peak RSS MB |\n|---|---:|---:|---:|")
    for name, wall, hwm in rows:
        if wall is None:
            print(f"| {name} | | | |")
        else:
            print(f"| {name} | {wall:.1f} | {hwm / 1024:.1f} | {hwm * 1024 / 1e6:.1f} |")


if __name__ == "__main__":
    main()
