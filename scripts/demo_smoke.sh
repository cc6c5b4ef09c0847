#!/usr/bin/env bash
# Smoke test of `kamwatch demo` (ctest Demo.AlertsAppear): the embedded broker and pipeline
# come up, every valid event is applied, and alerts fire within the run.
#   scripts/demo_smoke.sh KAMWATCH_BINARY [DURATION]
set -euo pipefail
bin=${1:?kamwatch binary}
cd "$(dirname "$0")/.."
out=$(mktemp /tmp/kamwatch-demo-smoke-XXXXXX)
trap 'rm -f "$out"' EXIT
"$bin" demo --duration "${2:-30s}" | tee "$out"
grep -q 'all .* valid events applied' "$out" || { echo "demo_smoke: events were not all applied"; exit 1; }
grep -q '^ALERT firing' "$out" || { echo "demo_smoke: no alert fired"; exit 1; }
echo "demo_smoke: ok ($(grep -c '^ALERT firing' "$out") alerts fired)"
