#!/usr/bin/env bash
# Builds the Release broker and the load tool, then runs the load scenarios against a
# fresh `fjord` and against librdkafka's in-process mock cluster in the same run, and
# prints the ratios. Arguments go to bench/load/run_load.py (--reps N, --scale F).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cmake -S . -B build/release -G Ninja -DCMAKE_BUILD_TYPE=Release -DFJORD_BUILD_TESTS=ON \
  -DFJORD_BUILD_BENCH=ON >/dev/null
ninja -C build/release fjord fjord_load
exec /usr/bin/python3 bench/load/run_load.py --fjord build/release/src/app/fjord \
  --load build/release/bench/load/fjord_load "$@"
