#!/usr/bin/env bash
# Builds kamwatch with a CMake preset (default: release). Installs missing Debian packages first.
#   scripts/build.sh [debug|release|asan|tsan] [extra cmake --build args]
set -euo pipefail
cd "$(dirname "$0")/.."
preset=${1:-release}
shift || true
scripts/install-deps.sh
# ccache (CMakeLists.txt): paths relative to this checkout and no working directory in the
# hash, so every clone of the repository on this machine hits the same cache entries.
export CCACHE_BASEDIR="$(pwd)" CCACHE_NOHASHDIR=true
cmake --preset "$preset" >/dev/null
cmake --build --preset "$preset" -j "${KAMWATCH_JOBS:-$(nproc)}" "$@"
