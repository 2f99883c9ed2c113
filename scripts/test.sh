#!/usr/bin/env bash
# Installs what is needed, builds Fjord twice (Release, and Debug with ASan+UBSan), runs
# every test in both, runs the fuzz targets for a bounded number of iterations when clang
# is available, and checks formatting. Exit status is non-zero when anything fails.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
jobs=${FJORD_JOBS:-$(nproc)}
# Let ccache share results between checkouts in different folders (CI clones afresh).
export CCACHE_BASEDIR="$root" CCACHE_NOHASHDIR=true

bash scripts/install-deps.sh
# kafkajs for the client-compatibility tests (npm registry; no lock file is kept).
(cd tests/golden/clients && npm install --no-audit --no-fund --no-package-lock --silent)

step() { printf '\n=== %s\n' "$*"; }

step "format check (clang-format)"
bash scripts/check-format.sh

step "Release build"
cmake -S . -B build/release -G Ninja -DCMAKE_BUILD_TYPE=Release -DFJORD_BUILD_TESTS=ON \
  -DFJORD_BUILD_BENCH=ON >/dev/null
time ninja -C build/release -j"$jobs"

step "Release tests"
ctest --test-dir build/release --output-on-failure -j"$jobs"

step "Debug build with ASan + UBSan"
cmake -S . -B build/asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DFJORD_SANITIZE=ON \
  -DFJORD_BUILD_BENCH=OFF >/dev/null
time ninja -C build/asan -j"$jobs"

step "ASan + UBSan tests"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
  ctest --test-dir build/asan --output-on-failure -j"$jobs"

if command -v clang++ >/dev/null; then
  step "fuzz targets (clang, libFuzzer, bounded runs)"
  CC=clang CXX=clang++ cmake -S . -B build/fuzz -G Ninja -DCMAKE_BUILD_TYPE=Debug \
    -DFJORD_SANITIZE=ON -DFJORD_FUZZ=ON -DFJORD_BUILD_BENCH=OFF >/dev/null
  time ninja -C build/fuzz -j"$jobs" $(ninja -C build/fuzz -t targets all | grep -o '^fuzz_[a-z_]*:' | tr -d : | sort -u)
  ctest --test-dir build/fuzz --output-on-failure -L fuzz
else
  step "fuzz targets skipped: clang++ not found"
fi

step "benchmarks build (run them with scripts/bench.sh)"
ls "$root"/build/release/bench/ 2>/dev/null | grep _bench || true
echo
echo "scripts/test.sh: all steps passed"
