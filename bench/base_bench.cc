// CRC-32C over a 1 MiB buffer against memcpy of the same buffer in the same run
// (target: CRC-32C >= 0.5x memcpy bandwidth), and the portable fallback for reference.
#include <benchmark/benchmark.h>

#include <cstring>
#include <vector>

#include "fjord/base/crc32c.h"
#include "memcpy_baseline.h"

namespace {

using ::fjord::bench::kMiB;

using ::fjord::bench::BM_Memcpy1MiB;
BENCHMARK(BM_Memcpy1MiB);

void BM_Crc32c1MiB(benchmark::State& state) {
  std::vector<uint8_t> buf = ::fjord::bench::PatternBuffer(kMiB);
  for (auto _ : state) benchmark::DoNotOptimize(fjord::crc32c::Value(buf));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * kMiB));
  state.SetLabel(fjord::crc32c::HardwareAccelerated() ? "sse4.2, 3 streams" : "portable");
}
BENCHMARK(BM_Crc32c1MiB);

void BM_Crc32cPortable1MiB(benchmark::State& state) {
  std::vector<uint8_t> buf = ::fjord::bench::PatternBuffer(kMiB);
  for (auto _ : state) {
    benchmark::DoNotOptimize(fjord::crc32c::ExtendPortable(0, buf.data(), buf.size()));
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * kMiB));
}
BENCHMARK(BM_Crc32cPortable1MiB);

}  // namespace

BENCHMARK_MAIN();
