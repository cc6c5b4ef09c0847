#!/usr/bin/env bash
# Builds the libFuzzer targets (fuzz/) with clang-14 + ASan/UBSan and runs each one, one after
# the other, over a fresh copy of its seed corpus.
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]   # SECONDS per target, default 600; default all targets
#   scripts/fuzz.sh --short [TARGET...]     # 30 s per target: for CI
#
# Environment:
#   KAMWATCH_FUZZ_BUILD   build directory (default: <repo>/build/fuzz); runs go to $BUILD/run/
#   KAMWATCH_FUZZ_JOBS    parallel build jobs (default: nproc)
#   KAMWATCH_FUZZ_DEPS=0  skip scripts/install-deps.sh
#   KAMWATCH_FUZZ_ARGS    extra libFuzzer flags (e.g. "-seed=1 -rss_limit_mb=4096")
# Prints one line per target: target, seconds, executions, exec/s, corpus size after the run,
# result ("ok", or "crash <artifact>"). Exits 1 when any target found something.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ALL_TARGETS=(fuzz_decode_json fuzz_decode_binary fuzz_rules_loader fuzz_expression fuzz_state_codec
             fuzz_portfolio_partial)

SECONDS_PER_TARGET=600
if [ "${1:-}" = "--short" ]; then
  SECONDS_PER_TARGET=30
  shift
elif [[ "${1:-}" =~ ^[0-9]+$ ]]; then
  SECONDS_PER_TARGET=$1
  shift
fi
TARGETS=("$@")
[ ${#TARGETS[@]} -gt 0 ] || TARGETS=("${ALL_TARGETS[@]}")
for t in "${TARGETS[@]}"; do
  [[ " ${ALL_TARGETS[*]} " == *" $t "* ]] || { echo "fuzz.sh: unknown target '$t' (${ALL_TARGETS[*]})" >&2; exit 2; }
done

BUILD="${KAMWATCH_FUZZ_BUILD:-$ROOT/build/fuzz}"
JOBS="${KAMWATCH_FUZZ_JOBS:-$(nproc)}"

if [ "${KAMWATCH_FUZZ_DEPS:-1}" != "0" ]; then
  "$ROOT/scripts/install-deps.sh"
fi

CC=clang-14 CXX=clang++-14 cmake -S "$ROOT" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DKAMWATCH_FUZZ=ON -DKAMWATCH_BUILD_TESTS=OFF -DKAMWATCH_BUILD_BENCH=OFF -DKAMWATCH_WERROR=OFF >/dev/null
cmake --build "$BUILD" -j "$JOBS" --target "${TARGETS[@]}"

dict_for() {
  case "$1" in
    fuzz_decode_json | fuzz_decode_binary) echo "$ROOT/fuzz/dict/cloudevents.dict" ;;
    fuzz_rules_loader | fuzz_expression) echo "$ROOT/fuzz/dict/rules.dict" ;;
    *) echo "" ;;
  esac
}

stat_of() {  # stat_of NAME LOG: a -print_final_stats value
  sed -n "s/^stat::$1: *\([0-9]*\).*/\1/p" "$2" | tail -1
}

summary=()
failed=0
for t in "${TARGETS[@]}"; do
  work="$BUILD/run/$t"
  rm -rf "$work"
  mkdir -p "$work/corpus" "$work/artifacts"
  cp -r "$ROOT/fuzz/corpus/$t/." "$work/corpus/"
  args=(-max_total_time="$SECONDS_PER_TARGET" -print_final_stats=1 -timeout=30 -rss_limit_mb=2048
        -artifact_prefix="$work/artifacts/")
  dict="$(dict_for "$t")"
  [ -z "$dict" ] || args+=(-dict="$dict")
  # shellcheck disable=SC2206
  args+=(${KAMWATCH_FUZZ_ARGS:-})
  echo "fuzz.sh: $t for ${SECONDS_PER_TARGET}s (log: $work/log)"
  start=$(date +%s.%N)
  set +e
  "$BUILD/fuzz/$t" "${args[@]}" "$work/corpus" >"$work/log" 2>&1
  rc=$?
  set -e
  end=$(date +%s.%N)
  elapsed=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.0f", b - a }')
  execs=$(stat_of number_of_executed_units "$work/log")
  if [ -z "$execs" ]; then  # no final stats: take the last status line "#N ..."
    execs=$(sed -n 's/^#\([0-9][0-9]*\).*/\1/p' "$work/log" | tail -1)
  fi
  execs=${execs:-0}
  fuzz_seconds=$elapsed
  [ "$fuzz_seconds" -gt 0 ] || fuzz_seconds=1
  rate=$((execs / fuzz_seconds))
  corpus=$(find "$work/corpus" -type f | wc -l)
  if [ "$rc" -eq 0 ]; then
    result=ok
  else
    failed=1
    artifact=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$work/log" | tail -1)
    kind=$(grep -m1 -oE 'ERROR: (AddressSanitizer|UndefinedBehaviorSanitizer|LeakSanitizer|libFuzzer): [a-zA-Z -]+|runtime error: .*' "$work/log" || true)
    result="crash ${artifact:-(no artifact, exit $rc)} ${kind:+[$kind]}"
  fi
  line=$(printf '%-20s %6ss %12s execs %8s exec/s %6s corpus  %s' "$t" "$elapsed" "$execs" "$rate" "$corpus" "$result")
  echo "$line"
  summary+=("$line")
done

echo
echo "fuzz.sh summary (${SECONDS_PER_TARGET}s per target):"
printf '%s\n' "${summary[@]}"
exit $failed
