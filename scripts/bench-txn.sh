#!/usr/bin/env bash
# Builds the Release broker and runs the transaction benchmarks against it with librdkafka's
# producer: transactions/s with 10 messages each, messages/s with 1,000 per transaction,
# and idempotent against plain acks=all produce in the same run. Arguments go to
# bench/txn/run_txn.py (--small, --large, --messages, --reps).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cmake -S . -B build/release -G Ninja -DCMAKE_BUILD_TYPE=Release -DFJORD_BUILD_TESTS=ON \
  -DFJORD_BUILD_BENCH=ON >/dev/null
ninja -C build/release fjord
exec /usr/bin/python3 bench/txn/run_txn.py --fjord build/release/src/app/fjord "$@"
