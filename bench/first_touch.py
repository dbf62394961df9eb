#!/usr/bin/env python3
"""What writing fresh file pages costs this machine's kernel (issue 19: the spread of the durable
floor and of every import). Writes GB gigabytes into the page cache in three ways — one file in
200 KB writes, one file in 4 MB writes, 2 MB files — each followed by its removal, a `sync` and a
pause (as bench.remove_output), and prints the system CPU each took.

    bench/first_touch.py [--gb 1] [--settle 65] [--reps 3] [--dir bench/out/first-touch]

On a machine whose memory stays with it, the three cost about the same. On a VM that reports free
memory to its host (`/sys/module/page_reporting/parameters/`, printed first when present), a page
the host has taken back faults there on its first touch, and the same write costs several times
as much system CPU whenever the kernel hands out such pages instead of ones freed a moment ago.
"""
import argparse
import os
import resource
import shutil
import subprocess
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def one_file(d, gb, write_size, buf):
    with open(os.path.join(d, "big"), "wb", buffering=0) as f:
        for _ in range((gb << 30) // write_size):
            f.write(buf[:write_size])


def many_files(d, gb, size, buf):
    for i in range((gb << 30) // size):
        with open(os.path.join(d, f"f{i}"), "wb", buffering=0) as f:
            f.write(buf[:size])


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--gb", type=int, default=1)
    ap.add_argument("--settle", type=float, default=65.0, help="seconds after each removal")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--dir", default=os.path.join(HERE, "out", "first-touch"))
    args = ap.parse_args()
    params = "/sys/module/page_reporting/parameters"
    if os.path.isdir(params):
        print("page_reporting:", ", ".join(f"{p}={open(os.path.join(params, p)).read().strip()}"
                                           for p in sorted(os.listdir(params))))
    buf = os.urandom(4 << 20)
    ways = [("one file, 200 KB writes", lambda d: one_file(d, args.gb, 200 << 10, buf)),
            ("one file, 4 MB writes", lambda d: one_file(d, args.gb, 4 << 20, buf)),
            ("2 MB files", lambda d: many_files(d, args.gb, 2 << 20, buf))]
    print(f"| rep | way | wall s | system CPU s for {args.gb} GB |\n|---:|---|---:|---:|")
    for rep in range(args.reps):
        # The ways take turns coming first: what the run before freed, and when, is part of the cost.
        for name, write in ways[rep % len(ways):] + ways[:rep % len(ways)]:
            os.makedirs(args.dir, exist_ok=True)
            r0, t0 = resource.getrusage(resource.RUSAGE_SELF), time.monotonic()
            write(args.dir)
            wall, r1 = time.monotonic() - t0, resource.getrusage(resource.RUSAGE_SELF)
            print(f"| {rep + 1} | {name} | {wall:.2f} | {r1.ru_stime - r0.ru_stime:.2f} |", flush=True)
            shutil.rmtree(args.dir)
            subprocess.run(["sync"], check=True)
            time.sleep(args.settle)


if __name__ == "__main__":
    main()
