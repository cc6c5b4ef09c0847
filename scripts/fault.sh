#!/usr/bin/env bash
# Runs the fault suite (tests/fault, docs/faults.md) against the real Kafka broker and prints
# a results table: scenario, runs, events, instances, kills/faults, lost, double counted.
#   scripts/fault.sh [--full] [--repeat N] [--filter REGEX] [--no-build]
#     --full       the full run: 100 SIGKILLs, 3 broker restarts, bigger workloads (~7 min);
#                  without it the short form that CI runs (~2.5 min)
#     --repeat N   run the suite N times (the table sums the runs)
#     --filter RE  only tests whose ctest name matches RE (e.g. 'Sigkill|Poison')
#     --no-build   use build/release as it is
# Env: KAMWATCH_TEST_BROKERS=host:port uses an existing broker (the broker-restart scenario
#      then skips unless scripts/kafka.sh manages that broker); otherwise scripts/kafka.sh
#      starts one on KAMWATCH_KAFKA_PORT (default 19092) and stops it afterwards.
#      KAMWATCH_FAULT_KILLS overrides the number of SIGKILLs; KAMWATCH_FAULT_MULTI_INSTANCE=0
#      skips the multi-instance scenarios (rebalance churn, zombie).
set -euo pipefail
cd "$(dirname "$0")/.."
full=0 repeat=1 filter="" build=1
usage() { sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
  case "$1" in
    --full) full=1 ;;
    --repeat) repeat=$2; shift ;;
    --filter) filter=$2; shift ;;
    --no-build) build=0 ;;
    -h | --help) usage; exit 0 ;;
    *) echo "fault.sh: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
  esac
  shift
done

[ "$build" = 1 ] && scripts/build.sh release
started_broker=0
results=$(mktemp /tmp/kamwatch-fault-results.XXXXXX)
cleanup() {
  [ "$started_broker" = 1 ] && scripts/kafka.sh stop >/dev/null || true
  rm -f "$results"
}
trap cleanup EXIT
if [ -z "${KAMWATCH_TEST_BROKERS:-}" ]; then
  if ! scripts/kafka.sh status >/dev/null 2>&1; then
    KAMWATCH_KAFKA_FRESH=1 scripts/kafka.sh start
    started_broker=1
  fi
  KAMWATCH_TEST_BROKERS=$(scripts/kafka.sh bootstrap)
fi
export KAMWATCH_TEST_BROKERS KAMWATCH_FAULT_RESULTS=$results KAMWATCH_FAULT_FULL=$full

start=$SECONDS status=0
for ((r = 1; r <= repeat; r++)); do
  echo "fault.sh: run $r of $repeat ($([ "$full" = 1 ] && echo full || echo short)) against $KAMWATCH_TEST_BROKERS"
  ctest --preset release -L fault ${filter:+-R "$filter"} || status=1
done

echo
echo "fault.sh: results ($([ "$full" = 1 ] && echo full || echo short) run, $((SECONDS - start))s)"
awk -F '\t' '
  {
    if (!($1 in runs)) order[n++] = $1
    runs[$1]++; events[$1] += $2; faults[$1] += $4; lost[$1] += $5; dbl[$1] += $6
    if ($3 > inst[$1]) inst[$1] = $3
    note[$1] = $7
  }
  END {
    fmt = "%-30s %5s %9s %9s %12s %6s %15s  %s\n"
    printf fmt, "scenario", "runs", "events", "instances", "kills/faults", "lost", "double counted", "notes"
    for (i = 0; i < n; i++) {
      s = order[i]
      if (note[s] ~ /^skipped/) { printf fmt, s, "-", "-", "-", "-", "-", "-", note[s]; continue }
      printf fmt, s, runs[s], events[s], inst[s], faults[s], lost[s], dbl[s], note[s]
    }
  }' "$results"
[ -s "$results" ] || echo "(no scenario reported a result)"
exit "$status"
