#!/usr/bin/env bash
# Backtest of the shipped rules on a simulated portfolio: simulate -> replay --truth, then check
# the risk recall and precision against floors. Used by ctest (label backtest) and by hand.
#   scripts/backtest.sh KAMWATCH_BINARY [SEED] [MIN_RECALL] [MIN_PRECISION]
set -euo pipefail
bin=${1:?kamwatch binary}
seed=${2:-1}
min_recall=${3:-0.9}
min_precision=${4:-0.8}
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d /tmp/kamwatch-backtest-XXXXXX)
trap 'rm -rf "$work"' EXIT
"$bin" simulate --accounts 300 --days 730 --seed "$seed" --out "$work/events.jsonl" \
  --truth "$work/truth.jsonl"
"$bin" replay --rules "$root/rules" --events "$work/events.jsonl" --out "$work/alerts.jsonl" \
  --truth "$work/truth.jsonl" | tee "$work/score.md"
row=$(grep '^| risk' "$work/score.md")
recall=$(echo "$row" | awk -F'|' '{gsub(/ /,"",$5); print $5}')
precision=$(echo "$row" | awk -F'|' '{gsub(/ /,"",$7); print $7}')
echo "backtest: seed $seed risk recall $recall (floor $min_recall), precision $precision (floor $min_precision)"
awk -v r="$recall" -v p="$precision" -v mr="$min_recall" -v mp="$min_precision" \
  'BEGIN { exit !(r >= mr && p >= mp) }'
