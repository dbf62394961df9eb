#!/usr/bin/env bash
# The parser alone: crates.io mail-parser 0.11.9 against vendor/mail-parser (issue 14 item 8).
#
#   bench/parser/run.sh [--runs N] [--count N] [--micro-mb M]
#
# Builds bench/parser (release, its own workspace and target dir bench/parser/target unless
# CARGO_TARGET_DIR is set), makes the seeded corpus bench/out/corpus-seed6-COUNT if missing (the one
# bench/run.sh uses; default 1,000 mails), and parses it with both crates in one process, alternating,
# best of N runs (default 7); then a base64-heavy and a quoted-printable-heavy mail (M MB each run,
# default 200). Prints a Markdown table (MB/s); per-run numbers go to stderr.
set -euo pipefail
self=$(realpath "$0")
cd "$(dirname "$self")"
RUNS=7 COUNT=1000 MICRO=200
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) RUNS=$2; shift ;;
    --count) COUNT=$2; shift ;;
    --micro-mb) MICRO=$2; shift ;;
    -h|--help) sed -n 2,10p "$self"; exit 0 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
CORPUS=../out/corpus-seed6-$COUNT
if [ ! -f "$CORPUS/.complete" ]; then
  rm -rf "$CORPUS"
  mkdir -p ../out
  echo "generating corpus: $COUNT mails, seed 6 → $CORPUS" >&2
  python3 ../gen_corpus.py --count "$COUNT" --seed 6 --out "$CORPUS" --senders-file "$CORPUS.senders.tsv" 2> "$CORPUS.stats"
  mv "$CORPUS.senders.tsv" "$CORPUS/senders.tsv"
  touch "$CORPUS/.complete"
fi
TARGET=${CARGO_TARGET_DIR:-target}
cargo build --release -q --target-dir "$TARGET"
"$TARGET/release/postkorb-bench-parser" --runs "$RUNS" --micro-mb "$MICRO" "$CORPUS"
