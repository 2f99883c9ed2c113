#pragma once
// The baseline every bench program measures in its own run: memcpy of a 1 MiB buffer.
// Ratios in the closing notes are against this figure from the same run.

#include <benchmark/benchmark.h>

#include <cstdint>
#include <cstring>
#include <vector>

namespace fjord::bench {

inline constexpr size_t kMiB = 1 << 20;

// n bytes of a fixed, not trivially compressible pattern.
inline std::vector<uint8_t> PatternBuffer(size_t n) {
  std::vector<uint8_t> b(n);
  for (size_t i = 0; i < n; ++i) b[i] = static_cast<uint8_t>(i * 131 + 7);
  return b;
}

inline void BM_Memcpy1MiB(benchmark::State& state) {
  std::vector<uint8_t> src = PatternBuffer(kMiB), dst(kMiB);
  for (auto _ : state) {
    std::memcpy(dst.data(), src.data(), kMiB);
    benchmark::DoNotOptimize(dst.data());
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * kMiB));
}

}  // namespace fjord::bench
