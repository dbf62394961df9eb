#!/usr/bin/env python3
"""The claim race (issue 6): 64 employees press „Synchronisieren“ at the same moment over 1,000 waiting
Vorgänge. Every Vorgang must be claimed exactly once, by one of its candidates.

    bench/claims.py --postkorb target/release/postkorb          # 64 employees, 1,000 Vorgänge, 3 runs
    bench/claims.py --employees 8 --cases 100 --reps 1          # a quick look

Once, a template data dir is made with the real CLI: 64 licensed employees (An, each with an API
token) and 100 field staff (Von) whose sender rows go to 2–4 of the 64 (seeded), so every mail of
theirs becomes a pooled Vorgang waiting for its candidates; a Maildir mailbox (`--verify off
--storm-max 0 --disposal delete`) with 10 German sample mails per sender is imported by the real
importer (`postkorb fetch --once`): 1,000 waiting Vorgänge with 2–4 candidates each.

Each run copies the template (fresh data), starts `postkorb serve` on a free loopback port, opens 64
keep-alive connections, and then sends `POST /api/v1/sync` (what „Synchronisieren“ calls: fetch now,
then claim what waits for me) with each employee's token, all at the same moment. Measured: the wall
time from the first request sent to the last answer, and each request's time. Then the database is
checked: all 1,000 Vorgänge open, each with exactly one assignee who is one of its candidates and
who got it in their answer, exactly one „claimed“ event by that assignee, nobody's answer holding a
Vorgang twice or another's; the per-employee numbers of the Startmaske (case_counts) equal what each
won. Any difference fails the script (exit status 1).

Modes (default both): `sync` — the mailbox is enabled, so every request first runs a fetch pass
(serialised in the process: one on-demand fetch at a time) as in the office; `claim-only` — the
mailbox is disabled, so the requests measure the claims (and the rest of the handler) alone.
Prints numbers only; nothing is asserted about times.
"""

import argparse
import asyncio
import json
import os
import random
import shutil
import sqlite3
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import web  # noqa: E402  (helpers: Cli, Server, HttpConn, pct, make_mail, write_maildir)

FIRST = ["Anna", "Bernd", "Clara", "Dieter", "Eva", "Frank", "Gisela", "Hans", "Ilse", "Jörg", "Karin", "Lutz",
         "Monika", "Norbert", "Olga", "Peter"]
LAST = ["Müller", "Schäfer", "Groß", "Köhler"]
MAILS_PER_SENDER = 10


def make_template(cli, employees, senders, seed):
    rng = random.Random(seed)
    recipients = []
    for i in range(employees):
        user = f"e{i + 1:02d}"
        name = f"{FIRST[i % len(FIRST)]} {LAST[(i // len(FIRST)) % len(LAST)]} {i + 1:02d}"
        cli("employee", "add", "--name", name, "--username", user, "--license", f"LIZ-{i + 1:04d}")
        recipients.append(user)
    # Each sender → 2–4 recipients; the first rows go round the recipients so that everyone is a
    # candidate somewhere.
    order = recipients[:]
    rng.shuffle(order)
    cover = iter(order)
    sender_rows = []
    for s in range(senders):
        name, addr = f"Außendienst {s + 1:03d}", f"ad{s + 1:03d}@mustermail.de"
        cli("employee", "add", "--name", name, "--email", addr)
        k = rng.randint(2, min(4, employees))
        tos = [u for u in (next(cover, None) for _ in range(k)) if u]
        tos += rng.sample([u for u in recipients if u not in tos], k - len(tos))
        for to in tos:
            cli("route", "add", "--from", name, "--to", to)
        sender_rows.append((name, addr, tos))
    tokens = {u: cli.token(u) for u in recipients}
    maildir = os.path.join(cli.data_dir, "maildir")
    now_s = time.time()
    mails = []
    for k in range(MAILS_PER_SENDER):
        for s, (name, addr, _) in enumerate(sender_rows):
            index = len(mails)
            mails.append(web.make_mail(rng, index, name, addr, f"V-{900000 + index:06d}", now_s - 7200 + index))
    web.write_maildir(maildir, mails)
    cli("mailbox", "set", "--protocol", "maildir", "--path", maildir, "--disposal", "delete", "--verify", "off",
        "--storm-max", "0")
    cli("fetch", "--once")
    with sqlite3.connect(cli.db) as db:
        waiting = db.execute("SELECT count(*) FROM cases WHERE status = 'waiting'").fetchone()[0]
        total = db.execute("SELECT count(*) FROM cases").fetchone()[0]
        sizes = [r[0] for r in db.execute("SELECT count(*) FROM case_candidates GROUP BY case_id")]
    if waiting != len(mails) or total != len(mails):
        raise SystemExit(f"template: {waiting} waiting of {total} Vorgänge, expected {len(mails)} waiting")
    if min(sizes) < 2 or max(sizes) > 4:
        raise SystemExit(f"template: candidates per Vorgang {min(sizes)}..{max(sizes)}, expected 2..4")
    return tokens, sizes


async def race(port, tokens):
    """All connections open first, then every request written in one pass of the event loop."""
    users = sorted(tokens)
    conns = [web.HttpConn(port) for _ in users]
    for c in conns:  # open the sockets (a cheap request each, not timed)
        st, _, _ = await c.request("GET", "/health")
        if st != 200:
            raise SystemExit(f"/health: {st}")
    go = asyncio.Event()
    results = {}

    async def one(user, conn):
        await go.wait()
        t0 = time.perf_counter()
        st, _, body = await conn.request("POST", "/api/v1/sync", [("Authorization", f"Bearer {tokens[user]}"),
                                                                  ("Content-Type", "application/json")])
        results[user] = (t0, time.perf_counter(), st, body)

    tasks = [asyncio.create_task(one(u, c)) for u, c in zip(users, conns)]
    await asyncio.sleep(0.2)
    go.set()
    await asyncio.gather(*tasks)
    for c in conns:
        await c.close()
    return results


def verify(db_path, won, n_cases):
    """Every problem found, as text (empty: all good)."""
    problems = []
    seen = {}
    for user, ids in won.items():
        for i in ids:
            if i in seen:
                problems.append(f"Vorgang {i} in the answers of {seen[i]} and {user}")
            seen[i] = user
    with sqlite3.connect(f"file:{db_path}?mode=ro", uri=True) as db:
        emp = dict(db.execute("SELECT username, id FROM employees WHERE username IS NOT NULL").fetchall())
        name_of = {v: k for k, v in emp.items()}
        cases = db.execute("SELECT id, status, assignee, claimed_ms FROM cases").fetchall()
        cands = {}
        for case_id, e in db.execute("SELECT case_id, employee_id FROM case_candidates"):
            cands.setdefault(case_id, set()).add(e)
        claims = {}
        for case_id, e in db.execute("SELECT case_id, employee_id FROM case_events WHERE kind = 'claimed'"):
            claims.setdefault(case_id, []).append(e)
        has_counts = db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'case_counts'").fetchone()
        counts = dict(db.execute("SELECT employee_id, cases FROM case_counts").fetchall()) if has_counts else None
    if len(cases) != n_cases:
        problems.append(f"{len(cases)} Vorgänge in the database, expected {n_cases}")
    for case_id, status, assignee, claimed_ms in cases:
        who = name_of.get(assignee)
        if status != "open":
            problems.append(f"Vorgang {case_id}: status {status}")
        if assignee is None or assignee not in cands.get(case_id, ()):
            problems.append(f"Vorgang {case_id}: assignee {assignee} is not one of its candidates {cands.get(case_id)}")
        if claimed_ms is None:
            problems.append(f"Vorgang {case_id}: no claimed_ms")
        if claims.get(case_id) != [assignee]:
            problems.append(f"Vorgang {case_id}: claim events {claims.get(case_id)}, assignee {assignee}")
        if seen.get(case_id) != who:
            problems.append(f"Vorgang {case_id}: assignee {who}, but answered to {seen.get(case_id)}")
    if counts is not None:
        for user, ids in won.items():
            if counts.get(emp[user], 0) != len(ids):
                problems.append(f"case_counts of {user}: {counts.get(emp[user], 0)}, won {len(ids)}")
    return problems


def run_once(args, template, mode, rep, n_cases):
    d = os.path.join(args.work, f"run-{mode}-{rep}")
    if os.path.exists(d):
        shutil.rmtree(d)
    shutil.copytree(template, d)
    cli = web.Cli(args.postkorb, d)
    if mode == "claim-only":
        cli("mailbox", "set", "--protocol", "maildir", "--path", os.path.join(d, "maildir"), "--disposal", "delete",
            "--verify", "off", "--storm-max", "0", "--disabled")
    with open(os.path.join(template, "bench-tokens.json")) as f:
        tokens = json.load(f)
    server = web.Server(cli)
    try:
        results = asyncio.run(race(server.port, tokens))
    finally:
        server.stop()
    problems, won = [], {}
    for user, (_, _, st, body) in results.items():
        if st != 200:
            problems.append(f"{user}: status {st}: {body[:200]!r}")
            continue
        try:
            won[user] = json.loads(body)["claimed"]
        except (ValueError, KeyError) as e:
            problems.append(f"{user}: bad answer {body[:200]!r} ({e})")
    problems += verify(cli.db, won, n_cases)
    t0 = min(r[0] for r in results.values())
    wall = (max(r[1] for r in results.values()) - t0) * 1000
    lat = sorted((r[1] - r[0]) * 1000 for r in results.values())
    per = sorted(len(v) for v in won.values())
    row = dict(mode=mode, rep=rep, wall=wall, p50=web.pct(lat, 0.5), p99=web.pct(lat, 0.99), max=lat[-1],
               per_min=per[0] if per else 0, per_med=statistics.median(per) if per else 0,
               per_max=per[-1] if per else 0, zero=sum(1 for x in per if x == 0), claimed=sum(per),
               problems=problems)
    if not args.keep:
        shutil.rmtree(d)
    return row


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--postkorb", default=os.path.join(web.ROOT, "target/release/postkorb"),
                    help="the binary (built with `cargo build --release -p postkorb-app` only if missing)")
    ap.add_argument("--employees", type=int, default=64, help="licensed employees, one request each (default 64)")
    ap.add_argument("--cases", type=int, default=1000,
                    help=f"waiting Vorgänge, a multiple of {MAILS_PER_SENDER} (default 1000)")
    ap.add_argument("--reps", type=int, default=3, help="runs per mode, each on fresh data (default 3)")
    ap.add_argument("--modes", default="sync,claim-only", help="sync, claim-only or both (default)")
    ap.add_argument("--seed", type=int, default=6)
    ap.add_argument("--work", default=os.path.join(HERE, "out", "claims"), help="data dirs go here (replaced)")
    ap.add_argument("--keep", action="store_true", help="keep the data dirs afterwards")
    args = ap.parse_args()
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    if any(m not in ("sync", "claim-only") for m in modes):
        ap.error("--modes: sync, claim-only")
    if args.cases % MAILS_PER_SENDER or args.employees < 4:
        ap.error(f"--cases must be a multiple of {MAILS_PER_SENDER}, --employees at least 4")
    if not os.path.exists(args.postkorb):
        subprocess.run(["cargo", "build", "--release", "-p", "postkorb-app"], cwd=web.ROOT, check=True)
    args.postkorb = os.path.abspath(args.postkorb)

    if os.path.exists(args.work):
        shutil.rmtree(args.work)
    template = os.path.join(args.work, "template")
    t0 = time.monotonic()
    cli = web.Cli(args.postkorb, template)
    tokens, sizes = make_template(cli, args.employees, args.cases // MAILS_PER_SENDER, args.seed)
    with open(os.path.join(template, "bench-tokens.json"), "w") as f:
        json.dump(tokens, f)
    hist = {k: sizes.count(k) for k in sorted(set(sizes))}
    print(f"template: {args.employees} employees, {args.cases // MAILS_PER_SENDER} senders, {args.cases} waiting "
          f"Vorgänge imported by `postkorb fetch --once`; candidates per Vorgang {hist} "
          f"({time.monotonic() - t0:.1f} s)", flush=True)

    rows = []
    for rep in range(1, args.reps + 1):
        for mode in modes:
            r = run_once(args, template, mode, rep, args.cases)
            rows.append(r)
            print(f"  {mode:<10} run {rep}: {r['wall']:8.1f} ms, claimed {r['claimed']}, "
                  f"problems {len(r['problems'])}", flush=True)
    if not args.keep:
        shutil.rmtree(args.work)

    print()
    print(f"{args.employees} concurrent POST /api/v1/sync over {args.cases} waiting Vorgänge (fresh data each run)")
    print()
    print("| mode | run | wall ms | request p50 ms | p99 ms | max ms | claimed | per employee min / median / max "
          "| employees with 0 | verified |")
    print("|---|---:|---:|---:|---:|---:|---:|---|---:|---|")
    for r in rows:
        ok = "ok" if not r["problems"] else f"**{len(r['problems'])} problems**"
        print(f"| {r['mode']} | {r['rep']} | {r['wall']:.1f} | {r['p50']:.1f} | {r['p99']:.1f} | {r['max']:.1f} "
              f"| {r['claimed']} | {r['per_min']} / {r['per_med']:g} / {r['per_max']} | {r['zero']} | {ok} |")
    print()
    print("| mode | wall min ms | wall median ms | request p50 median ms | request p99 median ms |")
    print("|---|---:|---:|---:|---:|")
    for mode in modes:
        rs = [r for r in rows if r["mode"] == mode]
        walls = [r["wall"] for r in rs]
        print(f"| {mode} | {min(walls):.1f} | {statistics.median(walls):.1f} "
              f"| {statistics.median(r['p50'] for r in rs):.1f} | {statistics.median(r['p99'] for r in rs):.1f} |")
    bad = [r for r in rows if r["problems"]]
    if bad:
        print()
        for r in bad:
            print(f"FAILED: {r['mode']} run {r['rep']}: {len(r['problems'])} problems, e.g.:")
            for p in r["problems"][:10]:
                print(f"  {p}")
        sys.exit(1)


if __name__ == "__main__":
    main()
