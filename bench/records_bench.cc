// The record path's hot loops, beside memcpy of 1 MiB in the same run: reading and
// building a 1 MiB uncompressed batch (the broker validates every produced batch record
// by record). CRC-32C against memcpy is in base_bench.
#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "fjord/protocol/record_batch.h"
#include "fjord/protocol/record_batch_builder.h"
#include "memcpy_baseline.h"

namespace {

using namespace fjord;
using namespace fjord::protocol;

using ::fjord::bench::kMiB;
constexpr size_t kValueSize = 100;  // a typical small Kafka record

using ::fjord::bench::BM_Memcpy1MiB;
BENCHMARK(BM_Memcpy1MiB);

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
