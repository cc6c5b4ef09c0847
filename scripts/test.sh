#!/usr/bin/env bash
# Runs the whole test suite: installs dependencies, builds (release preset), starts the real
# Kafka broker (scripts/kafka.sh), runs unit then integration tests with ctest, stops the broker.
#   scripts/test.sh [preset]        preset: release (default), debug, asan, tsan
# Env: KAMWATCH_TEST_BROKERS=host:port uses an existing broker instead of starting one.
set -euo pipefail
cd "$(dirname "$0")/.."
preset=${1:-release}
scripts/build.sh "$preset"
started_broker=0
if [ -z "${KAMWATCH_TEST_BROKERS:-}" ]; then
  if ! scripts/kafka.sh status >/dev/null 2>&1; then
    KAMWATCH_KAFKA_FRESH=1 scripts/kafka.sh start
    started_broker=1
  fi
  KAMWATCH_TEST_BROKERS=$(scripts/kafka.sh bootstrap)
  export KAMWATCH_TEST_BROKERS
fi
cleanup() { [ "$started_broker" = 1 ] && scripts/kafka.sh stop || true; }
trap cleanup EXIT
echo "test.sh: unit tests"
ctest --preset "$preset" -L unit -j "$(nproc)"
echo "test.sh: demo smoke test and backtest of the shipped rules on a simulated portfolio"
ctest --preset "$preset" -L backtest
echo "test.sh: integration tests against Kafka at $KAMWATCH_TEST_BROKERS"
ctest --preset "$preset" -L integration
