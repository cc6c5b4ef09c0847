#!/usr/bin/env bash
# Builds kamwatch with a CMake preset (default: release). Installs missing Debian packages first.
#   scripts/build.sh [debug|release|asan|tsan] [extra cmake --build args]
set -euo pipefail
cd "$(dirname "$0")/.."
preset=${1:-release}
shift || true
scripts/install-deps.sh
cmake --preset "$preset" >/dev/null
cmake --build --preset "$preset" -j "${KAMWATCH_JOBS:-$(nproc)}" "$@"
