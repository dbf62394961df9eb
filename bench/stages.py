#!/usr/bin/env python3
"""Sums the importer's stage times from a Postkorb log (POSTKORB_LOG=postkorb_app::service::importer=debug).

    POSTKORB_LOG=postkorb_app::service::importer=debug BENCH_STDERR=/tmp/pk.log python3 bench/bench.py ... --tools postkorb
    python3 bench/stages.py /tmp/pk.log
"""
import re
import sys
from collections import Counter

total, count = Counter(), Counter()
for line in open(sys.argv[1], errors="replace"):
    line = re.sub(r"\x1b\[[0-9;]*m", "", line)
    m = re.search(r"stage (\w+)", line)
    if not m:
        continue
    stage = m.group(1)
    count[stage] += 1
    for key, value in re.findall(r"(\w+)=(\d+)", line):
        if key.endswith("ms"):
            total[f"{stage}.{key}"] += int(value)
for key in sorted(total):
    print(f"{key:28s} {total[key] / 1000:8.2f} s")
print("batches:", dict(count))
