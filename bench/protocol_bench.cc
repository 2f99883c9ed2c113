// Protocol codec benchmarks: a Produce request and a Fetch response carrying 1 MiB of
// record bytes, decoded and encoded, beside a memcpy of the same 1 MiB in the same run.
// Decoding must cost O(partitions), not O(record bytes): records stay a view of the frame,
// so BM_DecodeProduce/<partitions>/<record bytes> does not grow with the second argument.
#include <benchmark/benchmark.h>

#include <cstring>
#include <vector>

#include "fjord/protocol/messages/fetch_response.h"
#include "fjord/protocol/messages/produce_request.h"
#include "memcpy_baseline.h"

namespace fp = fjord::protocol;

namespace {

using ::fjord::bench::kMiB;

fp::ProduceRequest MakeProduce(int partitions, const std::vector<uint8_t>& payload) {
  fp::ProduceRequest r;
  r.acks = -1;
  r.timeout_ms = 30000;
  auto& t = r.topic_data.emplace_back();
  t.name = "bench-topic";
  size_t per = payload.size() / static_cast<size_t>(partitions);
  for (int i = 0; i < partitions; ++i) {
    auto& p = t.partition_data.emplace_back();
    p.index = fjord::PartitionId(i);
    p.records = fp::RecordsView::Of({payload.data() + per * static_cast<size_t>(i), per});
  }
  return r;
}

fp::FetchResponse MakeFetch(int partitions, const std::vector<uint8_t>& payload) {
  fp::FetchResponse r;
  auto& t = r.responses.emplace_back();
  t.topic = "bench-topic";
  size_t per = payload.size() / static_cast<size_t>(partitions);
  for (int i = 0; i < partitions; ++i) {
    auto& p = t.partitions.emplace_back();
    p.partition_index = fjord::PartitionId(i);
    p.high_watermark = fjord::Offset(1000000);
    p.last_stable_offset = fjord::Offset(1000000);
    p.records = fp::RecordsView::Of({payload.data() + per * static_cast<size_t>(i), per});
  }
  return r;
}

using ::fjord::bench::BM_Memcpy1MiB;
BENCHMARK(BM_Memcpy1MiB);

// Args: partitions, record bytes in total.
void BM_DecodeProduce(benchmark::State& state) {
  std::vector<uint8_t> payload = ::fjord::bench::PatternBuffer(static_cast<size_t>(state.range(1)));
  std::vector<uint8_t> frame =
      fp::EncodeMessage(MakeProduce(static_cast<int>(state.range(0)), payload), 9);
  for (auto _ : state) {
    fp::ProduceRequest r;
    if (!fp::DecodeMessage(frame, 9, &r).ok()) state.SkipWithError("decode failed");
    benchmark::DoNotOptimize(r);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * state.range(1));
}
BENCHMARK(BM_DecodeProduce)
    ->Args({1, 1 << 10})
    ->Args({1, kMiB})
    ->Args({16, kMiB})
    ->Args({16, 16 * kMiB});

void BM_EncodeProduce(benchmark::State& state) {
  std::vector<uint8_t> payload = ::fjord::bench::PatternBuffer(kMiB);
  fp::ProduceRequest r = MakeProduce(static_cast<int>(state.range(0)), payload);
  std::vector<uint8_t> out;
  out.reserve(kMiB + 4096);
  for (auto _ : state) {
    out.clear();
    fp::EncodeMessage(r, 9, &out);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * kMiB));
}
BENCHMARK(BM_EncodeProduce)->Arg(1)->Arg(16);

void BM_DecodeFetchResponse(benchmark::State& state) {
  std::vector<uint8_t> payload = ::fjord::bench::PatternBuffer(kMiB);
  std::vector<uint8_t> frame =
      fp::EncodeMessage(MakeFetch(static_cast<int>(state.range(0)), payload), 12);
  for (auto _ : state) {
    fp::FetchResponse r;
    if (!fp::DecodeMessage(frame, 12, &r).ok()) state.SkipWithError("decode failed");
    benchmark::DoNotOptimize(r);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * kMiB));
}
BENCHMARK(BM_DecodeFetchResponse)->Arg(1)->Arg(16);

void BM_EncodeFetchResponse(benchmark::State& state) {
  std::vector<uint8_t> payload = ::fjord::bench::PatternBuffer(kMiB);
  fp::FetchResponse r = MakeFetch(static_cast<int>(state.range(0)), payload);
  std::vector<uint8_t> out;
  out.reserve(kMiB + 4096);
  for (auto _ : state) {
    out.clear();
    fp::EncodeMessage(r, 12, &out);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * kMiB));
}
BENCHMARK(BM_EncodeFetchResponse)->Arg(1)->Arg(16);

}  // namespace

BENCHMARK_MAIN();
