#!/usr/bin/env bash
# Installs what is needed, builds Fjord (Release) and starts a single-node broker with the
# embedded default: 127.0.0.1:9092, data under ./data. Arguments go to `fjord`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh --build
cmake -S . -B build/release -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DFJORD_BUILD_TESTS=OFF -DFJORD_BUILD_BENCH=OFF >/dev/null
ninja -C build/release fjord fjordctl
exec build/release/src/app/fjord "$@"
