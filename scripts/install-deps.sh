#!/usr/bin/env bash
# Installs every Debian package kamwatch's build, tests and benchmarks need.
# Idempotent: packages already present are skipped quickly by apt.
set -euo pipefail
PKGS=(
  build-essential cmake ninja-build pkg-config git ccache
  librdkafka-dev librocksdb-dev prometheus-cpp-dev libboost-dev libjemalloc-dev
  libprotobuf-dev protobuf-compiler libyaml-cpp-dev libsimdjson-dev
  libgtest-dev libgmock-dev libbenchmark-dev libsystemd-dev libssl-dev zlib1g-dev
  kcat clang-format clang-tidy clang-14 libclang-rt-14-dev
  openjdk-17-jre-headless maven
  prometheus prometheus-alertmanager
  python3 curl procps chromium
)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#PKGS[@]} packages present"
  exit 0
fi
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
