#!/usr/bin/env bash
# One command for the bulk-import comparison (issue 6):
#
#   bench/run.sh            full: corpus of 10,000 mails (~1.98 GB), sizes 1,000 and 10,000, 3 repetitions
#   bench/run.sh --quick    1,000 mails, 1 repetition (a few minutes)
#
# Options (after --quick or alone): --sizes 1000,3000,10000  --reps N  --seed S
#   --tools postkorb,postkorb-indb,mbsync,mbsync-nofsync,python  --batch-size N  (Postkorb's batch_size setting)
#   --no-plot  --postkorb BIN  (use this binary instead of building the checkout; e.g. a build of a
#   clean `git archive HEAD` while the working tree is being edited)
# Installs what is missing (apt-get: isync, dovecot-imapd, time; pip: matplotlib for the plot),
# builds `postkorb` (release), generates the seeded corpus under bench/out/ (not committed),
# starts a private Dovecot on a free loopback port, and runs every tool from the same mailbox state.
# Results: bench/out/results.json, the table on stdout, the plot bench/out/import-time.png.
set -euo pipefail
cd "$(dirname "$0")/.."
BENCH=bench
OUT=$BENCH/out

COUNT=10000 SIZES=1000,10000 REPS=3 SEED=6 TOOLS=postkorb,postkorb-indb,mbsync,mbsync-nofsync,python BATCH=0 PLOT=1 PK_BIN=
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) COUNT=1000 SIZES=1000 REPS=1 ;;
    --sizes) SIZES=$2; shift ;;
    --reps) REPS=$2; shift ;;
    --seed) SEED=$2; shift ;;
    --tools) TOOLS=$2; shift ;;
    --batch-size) BATCH=$2; shift ;;
    --no-plot) PLOT=0 ;;
    --postkorb) PK_BIN=$2; shift ;;
    -h|--help) sed -n 2,16p "$0"; exit 0 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
# The corpus must hold the largest size asked for (smaller sizes are its prefix: same seed, same mails).
MAX=$(tr ',' '\n' <<<"$SIZES" | sort -n | tail -1)
[ "$MAX" -gt "$COUNT" ] && COUNT=$MAX

need_apt=()
command -v mbsync >/dev/null || need_apt+=(isync)
command -v dovecot >/dev/null || [ -x /usr/sbin/dovecot ] || need_apt+=(dovecot-imapd)
[ -x /usr/bin/time ] || need_apt+=(time)
command -v python3 >/dev/null || need_apt+=(python3)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "installing: ${need_apt[*]}" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi
export PATH=$PATH:/usr/sbin
# Dovecot must not start as a system service on our ports; we run our own instance only.

if [ -z "$PK_BIN" ]; then
  echo "building postkorb (release)…" >&2
  cargo build --release -q -p postkorb-app
  PK_BIN=target/release/postkorb
fi
PK_BIN=$(realpath "$PK_BIN")

mkdir -p "$OUT"
CORPUS=$OUT/corpus-seed$SEED-$COUNT
if [ ! -f "$CORPUS/.complete" ]; then
  rm -rf "$CORPUS"
  echo "generating corpus: $COUNT mails, seed $SEED → $CORPUS" >&2
  python3 $BENCH/gen_corpus.py --count "$COUNT" --seed "$SEED" --out "$CORPUS" --senders-file "$CORPUS.senders.tsv" \
    2> "$CORPUS.stats"
  mv "$CORPUS.senders.tsv" "$CORPUS/senders.tsv"
  touch "$CORPUS/.complete"
fi
cat "$CORPUS.stats" >&2

{
  echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'),"\
       "$(free -g | awk '/Mem:/ {print $2}') GiB RAM, kernel $(uname -r)"
  echo "versions: $("$PK_BIN" --version) ($PK_BIN), $(mbsync --version), dovecot $(dovecot --version),"\
       "$(python3 --version)"
  echo "corpus: $(cat "$CORPUS.stats")"
} | tee "$OUT/machine.txt" >&2

python3 $BENCH/bench.py --corpus "$CORPUS" --sizes "$SIZES" --reps "$REPS" --tools "$TOOLS" --batch-size "$BATCH" --postkorb "$PK_BIN" \
  | tee "$OUT/table.md"

if [ "$PLOT" = 1 ]; then
  python3 -c 'import matplotlib' 2>/dev/null || pip install -q matplotlib >&2 || true
  python3 $BENCH/plot.py "$OUT/results.json" "$OUT/import-time.png" || echo "plot failed (matplotlib?)" >&2
fi
