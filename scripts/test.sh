#!/usr/bin/env bash
# Runs the whole test suite: installs dependencies, builds, starts the real Kafka broker
# (scripts/kafka.sh), runs unit, backtest, integration and (release only) the short fault suite
# with ctest, stops the broker.
#   scripts/test.sh [preset...]     presets: release (default), debug, asan, tsan
# Without a preset (the README's test command, and CI's: .ci/run), the release suite is
# followed by the asan (AddressSanitizer+UBSan, LeakSanitizer) and tsan (ThreadSanitizer)
# suites, each in build/<preset>; KAMWATCH_SANITIZER_SUITES=0 runs the release suite alone.
# CI's budget is 90 minutes for all three from a fresh clone (three builds; ccache, installed
# by install-deps, keeps compiled objects in ~/.cache/ccache across clones, and the Kafka jars
# come from ~/.cache). What keeps the sanitizer suites affordable:
# - the asan and tsan presets compile at -O1, not -O0 (CMakeLists.txt: at -O0 the simulator
#   unit tests and the backtest ran 5-10x longer under ASan);
# - ShippedRules.BacktestSeed1 does not run under tsan: simulate and replay are single-threaded,
#   so TSan would only add minutes; the asan suite runs it (tests/CMakeLists.txt);
# - every unit test and every integration test runs under both sanitizers; the slower builds
#   get longer deadlines, not fewer checks (KAMWATCH_TEST_TIME_SCALE in the presets).
# Env: KAMWATCH_TEST_BROKERS=host:port uses an existing broker instead of starting one
#      (KAMWATCH_KAFKA_PORT picks the port of the one started here, default 19092).
#      KAMWATCH_SANITIZER_SUITES=0 skips the asan and tsan suites (a quicker local run).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
if [ $# -gt 0 ]; then
  presets=("$@")
else
  presets=(release)
  if [ "${KAMWATCH_SANITIZER_SUITES:-1}" != 0 ]; then
    presets+=(asan tsan)
  fi
fi

started_broker=0
cleanup() { [ "$started_broker" = 1 ] && scripts/kafka.sh stop || true; }
trap cleanup EXIT
ensure_broker() {
  [ -n "${KAMWATCH_TEST_BROKERS:-}" ] && return
  if ! scripts/kafka.sh status >/dev/null 2>&1; then
    KAMWATCH_KAFKA_FRESH=1 scripts/kafka.sh start
    started_broker=1
  fi
  KAMWATCH_TEST_BROKERS=$(scripts/kafka.sh bootstrap)
  export KAMWATCH_TEST_BROKERS
}

# Sanitizer runtime options for the tests and every kamwatch process they start (the daemon
# inherits the environment). Errors already stop the process: -fno-sanitize-recover=all for
# ASan/UBSan, halt_on_error for TSan, so a report in a daemon that a test later SIGKILLs still
# fails that test (the daemon exits 66 first). tests/sanitizers/tsan.supp explains each
# suppression.
sanitizer_env() {
  case "$1" in
    asan)
      echo "ASAN_OPTIONS=detect_leaks=1:${ASAN_OPTIONS:-}"
      echo "UBSAN_OPTIONS=print_stacktrace=1:${UBSAN_OPTIONS:-}"
      ;;
    tsan)
      echo "TSAN_OPTIONS=suppressions=$root/tests/sanitizers/tsan.supp halt_on_error=1" \
        "second_deadlock_stack=1 ${TSAN_OPTIONS:-}"
      ;;
  esac
}

suite() {
  local preset=$1 start=$SECONDS
  echo "test.sh: [$preset] build"
  scripts/build.sh "$preset"
  echo "test.sh: [$preset] built in $(((SECONDS - start) / 60))m$(((SECONDS - start) % 60))s"
  ensure_broker
  local -a env_args=()
  mapfile -t env_args < <(sanitizer_env "$preset")
  run() { env "${env_args[@]}" ctest --preset "$preset" "$@"; }
  echo "test.sh: [$preset] unit tests"
  run -L unit -j "$(nproc)"
  echo "test.sh: [$preset] demo smoke test and backtest of the shipped rules on a simulated portfolio"
  run -L backtest
  echo "test.sh: [$preset] integration tests against Kafka at $KAMWATCH_TEST_BROKERS"
  run -L integration
  # The fault suite's short form (scripts/fault.sh runs it with a results table; --full for
  # the full one). Release only: it kills and restarts processes, the broker included, and is
  # about timing, which the sanitizers' slowdown would distort.
  if [ "$preset" = release ]; then
    echo "test.sh: [$preset] fault suite (short form) against Kafka at $KAMWATCH_TEST_BROKERS"
    run -L fault
  fi
  echo "test.sh: [$preset] passed in $(((SECONDS - start) / 60))m$(((SECONDS - start) % 60))s"
}

for preset in "${presets[@]}"; do
  suite "$preset"
done
