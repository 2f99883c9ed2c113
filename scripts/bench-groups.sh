#!/usr/bin/env bash
# Builds the Release broker and runs the group coordinator benchmarks against it: the
# rebalance time of a 50-member group over 500 partitions when one member joins, and
# OffsetCommit throughput against Produce in the same run. Arguments go to
# bench/groups/run_groups.py (--members, --partitions, --reps, --commits, --heartbeat-ms).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cmake -S . -B build/release -G Ninja -DCMAKE_BUILD_TYPE=Release -DFJORD_BUILD_TESTS=ON \
  -DFJORD_BUILD_BENCH=ON >/dev/null
ninja -C build/release fjord
exec /usr/bin/python3 bench/groups/run_groups.py --fjord build/release/src/app/fjord "$@"
