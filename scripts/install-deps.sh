#!/usr/bin/env bash
# Installs every Debian package Fjord needs to build, test and benchmark.
# Idempotent and non-interactive: packages already present are skipped by apt-get.
#   scripts/install-deps.sh          build + test dependencies (compilers, libraries, clients)
#   scripts/install-deps.sh --build  only what building the broker needs
set -euo pipefail

BUILD_PKGS=(
  build-essential cmake ninja-build ccache pkg-config python3
  libboost1.81-dev libboost-program-options1.81-dev
  libabsl-dev libspdlog-dev libfmt-dev libyaml-cpp-dev libcli11-dev
  libssl-dev libsasl2-dev liburing-dev
  zlib1g-dev libsnappy-dev liblz4-dev libzstd-dev
)
TEST_PKGS=(
  libgtest-dev libgmock-dev libbenchmark-dev
  clang clang-format libclang-rt-14-dev
  kcat librdkafka-dev python3-confluent-kafka python3-kafka
  nodejs iproute2 procps
)

pkgs=("${BUILD_PKGS[@]}")
if [[ "${1:-}" != "--build" ]]; then
  pkgs+=("${TEST_PKGS[@]}")
fi

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

SUDO=""
[[ $(id -u) -eq 0 ]] || SUDO="sudo"
if ((${#missing[@]})); then
  echo "install-deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  echo "install-deps: all ${#pkgs[@]} packages present"
fi

# npm ships inside some nodejs builds and as its own Debian package in others.
if [[ "${1:-}" != "--build" ]] && ! command -v npm >/dev/null; then
  echo "install-deps: installing npm"
  DEBIAN_FRONTEND=noninteractive ${SUDO:-} apt-get install -y -qq --no-install-recommends npm
fi
