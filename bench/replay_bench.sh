#!/usr/bin/env bash
# Replay speed of `kamwatch replay` on a large file (issue 6, scale figures).
# Usage: bench/replay_bench.sh [ACCOUNTS] [DAYS] [KAMWATCH]
#   ACCOUNTS (8500) and DAYS (365): the simulated portfolio (`kamwatch simulate`; 8,500
#   accounts over a year are ~5.1M events, ~1 GB of JSON Lines); KAMWATCH: the binary
#   (build/release/kamwatch). Runs the shipped rules (rules/) with --truth, prints events,
#   seconds, events/s, CPU seconds and peak RSS, and removes the files.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
accounts="${1:-8500}"
days="${2:-365}"
kamwatch="${3:-$root/build/release/kamwatch}"
[[ -x "$kamwatch" ]] || { echo "replay_bench: no $kamwatch (build with scripts/build.sh)" >&2; exit 2; }
dir="$(mktemp -d /tmp/kw-replay-bench-XXXXXX)"
trap 'rm -rf "$dir"' EXIT
"$kamwatch" simulate --accounts "$accounts" --days "$days" --out "$dir/events.jsonl" \
  --truth "$dir/truth.jsonl" >&2
events="$(wc -l < "$dir/events.jsonl")"
bytes="$(stat -c %s "$dir/events.jsonl")"
python3 - "$kamwatch" "$root/rules" "$dir" "$events" "$bytes" <<'PY'
import resource, subprocess, sys, time
kamwatch, rules, d, events, size = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
t0 = time.monotonic()
subprocess.run([kamwatch, "replay", "--rules", rules, "--events", f"{d}/events.jsonl",
                "--out", f"{d}/alerts.jsonl", "--truth", f"{d}/truth.jsonl", "--quiet"],
               check=True, stdout=subprocess.DEVNULL)
wall = time.monotonic() - t0
ru = resource.getrusage(resource.RUSAGE_CHILDREN)
with open(f"{d}/alerts.jsonl") as f:
    transitions = sum(1 for _ in f)
print("| measure | value |\n|---|---|")
print(f"| events | {events:,} ({size / 1e6:,.0f} MB of JSON Lines) |")
print(f"| alert transitions written | {transitions:,} |")
print(f"| wall time | {wall:.1f} s |")
print(f"| events/s | {events / wall:,.0f} |")
print(f"| CPU (user + system) | {ru.ru_utime + ru.ru_stime:.1f} s |")
print(f"| peak RSS | {ru.ru_maxrss / 1024:,.0f} MiB |")
PY
