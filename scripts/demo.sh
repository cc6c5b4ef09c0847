#!/usr/bin/env bash
# The zero-setup demo: installs what is missing, builds, and runs `kamwatch demo` on an
# embedded Kafka cluster (no broker to install). Extra arguments go to `kamwatch demo`,
# e.g. scripts/demo.sh --duration 30s
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build.sh release --target kamwatch >&2
exec build/release/kamwatch demo "$@"
