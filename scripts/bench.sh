#!/usr/bin/env bash
# Builds the Release benchmarks and runs them; prints each program's table. Ratios are
# against baselines measured in the same run (memcpy of the same buffer, raw write()).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cmake -S . -B build/release -G Ninja -DCMAKE_BUILD_TYPE=Release -DFJORD_BUILD_TESTS=ON \
  -DFJORD_BUILD_BENCH=ON >/dev/null
ninja -C build/release $(ninja -C build/release -t targets all | grep -o '^[a-z_]*_bench:' | tr -d : | sort -u)
for b in build/release/bench/*_bench; do
  echo "=== $b"
  "$b" --benchmark_min_time=0.3 "$@"
done
