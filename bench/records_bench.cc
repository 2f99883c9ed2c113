// The record path's hot loops: CRC-32C over 1 MiB against memcpy of the same 1 MiB in the
// same run (target: CRC-32C >= 0.5x memcpy bandwidth), and reading and building a 1 MiB
// uncompressed batch (the broker validates every produced batch record by record).
#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "fjord/base/crc32c.h"
#include "fjord/protocol/record_batch.h"
#include "fjord/protocol/record_batch_builder.h"

namespace {

using namespace fjord;
using namespace fjord::protocol;

constexpr size_t kMiB = 1 << 20;
constexpr size_t kValueSize = 100;  // a typical small Kafka record

std::vector<uint8_t> Buffer() {
  std::vector<uint8_t> b(kMiB);
  for (size_t i = 0; i < b.size(); ++i) b[i] = static_cast<uint8_t>(i * 131 + 7);
  return b;
}

void BM_Memcpy1MiB(benchmark::State& state) {
  std::vector<uint8_t> src = Buffer(), dst(kMiB);
  for (auto _ : state) {
    std::memcpy(dst.data(), src.data(), kMiB);
    benchmark::DoNotOptimize(dst.data());
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * kMiB));
}
BENCHMARK(BM_Memcpy1MiB);

void BM_Crc32c1MiB(benchmark::State& state) {
  std::vector<uint8_t> buf = Buffer();
  for (auto _ : state) benchmark::DoNotOptimize(crc32c::Value(buf));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * kMiB));
  state.SetLabel(crc32c::HardwareAccelerated() ? "sse4.2" : "portable");
}
BENCHMARK(BM_Crc32c1MiB);

// Records of kValueSize-byte values with 8-byte keys until the batch holds about 1 MiB.
RecordBatchBuilder FillBuilder() {
  RecordBatchBuilder b(Offset(0));
  b.SetProducer(ProducerId(1), ProducerEpoch(0), 0);
  std::string value(kValueSize, 'v');
  char key[16];
  for (int i = 0; b.records_size() < kMiB - 200; ++i) {
    std::snprintf(key, sizeof(key), "%08d", i);
    b.Add(1700000000000 + i, AsBytes(std::string_view(key, 8)), AsBytes(value));
  }
  return b;
}

void BM_BuildBatch1MiB(benchmark::State& state) {
  std::string value(kValueSize, 'v');
  char key[16];
  size_t bytes = 0;
  for (auto _ : state) {
    RecordBatchBuilder b(Offset(0));
    b.Reserve(kMiB);
    for (int i = 0; b.records_size() < kMiB - 200; ++i) {
      std::snprintf(key, sizeof(key), "%08d", i);
      b.Add(1700000000000 + i, AsBytes(std::string_view(key, 8)), AsBytes(value));
    }
    absl::StatusOr<std::vector<uint8_t>> batch = std::move(b).Build();
    bytes = batch->size();
    benchmark::DoNotOptimize(batch->data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * bytes));
}
BENCHMARK(BM_BuildBatch1MiB);

void BM_ReadRecords1MiB(benchmark::State& state) {
  std::vector<uint8_t> batch = *FillBuilder().Build();
  int64_t records = 0;
  for (auto _ : state) {
    absl::StatusOr<RecordBatchView> view = ParseRecordBatch(batch);  // CRC included
    RecordReader reader(*view);
    size_t sum = 0;
    while (reader.Next()) sum += reader.record().value->size();
    if (!reader.status().ok()) state.SkipWithError("bad batch");
    benchmark::DoNotOptimize(sum);
    records += view->header().records_count;
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * batch.size()));
  state.counters["records/s"] =
      benchmark::Counter(static_cast<double>(records), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_ReadRecords1MiB);

}  // namespace

BENCHMARK_MAIN();
