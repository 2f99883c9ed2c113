// fjordctl perf produce | consume: load generators (kafka-producer-perf-test.sh and
// kafka-consumer-perf-test.sh). Each is bounded by a record count and a duration, shows a
// live progress line on stderr, and ends with a summary: records/s, MB/s and latency
// percentiles (produce: send to acknowledgement per record; consume: per Fetch).
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <random>
#include <thread>

#include "absl/strings/str_cat.h"
#include "context.h"
#include "fetcher.h"
#include "fjord/protocol/record_batch_builder.h"
#include "lookup.h"

namespace fjord::ctl {

using client::Target;
using Clock = std::chrono::steady_clock;

namespace {

constexpr double kMiB = 1024.0 * 1024.0;

std::string Fixed(double v, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }
double Millis(std::chrono::nanoseconds d) {
  return std::chrono::duration<double, std::milli>(d).count();
}

// Latency samples, each standing for `weight` records (a batch's records share its
// round trip), with percentiles over the records.
class Latencies {
 public:
  void Add(std::chrono::nanoseconds d, int64_t weight) {
    samples_.push_back({d.count(), weight});
    total_ += weight;
    sum_ += static_cast<double>(d.count()) * static_cast<double>(weight);
    max_ = std::max(max_, d.count());
  }
  bool empty() const { return total_ == 0; }
  double MeanMs() const { return total_ ? sum_ / static_cast<double>(total_) / 1e6 : 0; }
  double MaxMs() const { return static_cast<double>(max_) / 1e6; }
  // The latency at or below which `q` (0..1) of the records were.
  double PercentileMs(double q) {
    if (total_ == 0) return 0;
    if (!sorted_) {
      std::sort(samples_.begin(), samples_.end());
      sorted_ = true;
    }
    const auto rank = static_cast<int64_t>(q * static_cast<double>(total_));
    int64_t seen = 0;
    for (const auto& [ns, w] : samples_) {
      seen += w;
      if (seen > rank) return static_cast<double>(ns) / 1e6;
    }
    return MaxMs();
  }

 private:
  std::vector<std::pair<int64_t, int64_t>> samples_;
  int64_t total_ = 0;
  double sum_ = 0;
  int64_t max_ = 0;
  bool sorted_ = false;
};

// The live line on stderr: what the last interval did. On a terminal it rewrites itself;
// elsewhere (a log, a pipe) it is one line per interval.
class Progress {
 public:
  Progress(const char* what, std::chrono::milliseconds interval)
      : what_(what), interval_(interval), tty_(::isatty(STDERR_FILENO) == 1) {
    next_ = Clock::now() + interval_;
    window_start_ = Clock::now();
  }
  bool enabled() const { return interval_.count() > 0; }
  Clock::time_point next() const { return enabled() ? next_ : Clock::time_point::max(); }

  // Counts what completed, and a latency standing for `weight` operations.
  void Count(int64_t records, int64_t bytes) {
    records_ += records;
    bytes_ += bytes;
    window_records_ += records;
    window_bytes_ += bytes;
  }
  void Latency(std::chrono::nanoseconds latency, int64_t weight) {
    latency_sum_ += static_cast<double>(latency.count()) * static_cast<double>(weight);
    latency_weight_ += weight;
    latency_max_ = std::max(latency_max_, latency);
  }
  // Prints when the interval is up.
  void Tick() {
    if (!enabled() || Clock::now() < next_) return;
    const double secs = std::max(Seconds(Clock::now() - window_start_), 1e-9);
    std::string line = absl::StrCat(
        what_, ": ", records_, " records, ", Fixed(static_cast<double>(window_records_) / secs, 1),
        " records/s (", Fixed(static_cast<double>(window_bytes_) / kMiB / secs, 2), " MB/s)");
    if (latency_weight_ > 0) {
      absl::StrAppend(&line, ", latency avg ",
                      Fixed(latency_sum_ / static_cast<double>(latency_weight_) / 1e6, 2),
                      " ms max ", Fixed(Millis(latency_max_), 2), " ms");
    }
    if (tty_) {
      std::fprintf(stderr, "\r\033[K%s", line.c_str());
      shown_ = true;
    } else {
      std::fprintf(stderr, "%s\n", line.c_str());
    }
    std::fflush(stderr);
    window_start_ = Clock::now();
    window_records_ = window_bytes_ = 0;
    latency_sum_ = 0;
    latency_weight_ = 0;
    latency_max_ = {};
    next_ = Clock::now() + interval_;
  }
  // Ends the rewriting line before the summary.
  void Finish() {
    if (shown_) std::fprintf(stderr, "\n");
  }

 private:
  const char* what_;
  std::chrono::milliseconds interval_;
  bool tty_;
  bool shown_ = false;
  Clock::time_point next_;
  Clock::time_point window_start_;
  int64_t records_ = 0, bytes_ = 0, window_records_ = 0, window_bytes_ = 0;
  double latency_sum_ = 0;
  int64_t latency_weight_ = 0;
  std::chrono::nanoseconds latency_max_{0};
};

// The summary both commands print: a table for people, JSON for scripts.
void Summarize(Context& ctx, const std::string& what, int64_t records, int64_t bytes,
               Clock::duration elapsed, Latencies& lat, const std::string& latency_of,
               const std::string& stopped_by) {
  const double secs = std::max(Seconds(elapsed), 1e-9);
  const double rate = static_cast<double>(records) / secs;
  const double mbs = static_cast<double>(bytes) / kMiB / secs;
  Table t({"measure", "value"});
  t.Row({"records", std::to_string(records)});
  t.Row({"bytes", std::to_string(bytes)});
  t.Row({"seconds", Fixed(secs, 3)});
  t.Row({"records/s", Fixed(rate, 1)});
  t.Row({"MB/s", Fixed(mbs, 2)});
  t.Row({"latency of", latency_of});
  t.Row({"latency avg ms", Fixed(lat.MeanMs(), 3)});
  t.Row({"latency p50 ms", Fixed(lat.PercentileMs(0.5), 3)});
  t.Row({"latency p99 ms", Fixed(lat.PercentileMs(0.99), 3)});
  t.Row({"latency p99.9 ms", Fixed(lat.PercentileMs(0.999), 3)});
  t.Row({"latency max ms", Fixed(lat.MaxMs(), 3)});
  t.Row({"stopped by", stopped_by});
  ctx.Print(t, Json::MakeObject()
                   .Set("test", what)
                   .Set("records", records)
                   .Set("bytes", bytes)
                   .Set("seconds", secs)
                   .Set("records_per_sec", rate)
                   .Set("mb_per_sec", mbs)
                   .Set("latency_of", latency_of)
                   .Set("latency_avg_ms", lat.MeanMs())
                   .Set("latency_p50_ms", lat.PercentileMs(0.5))
                   .Set("latency_p99_ms", lat.PercentileMs(0.99))
                   .Set("latency_p999_ms", lat.PercentileMs(0.999))
                   .Set("latency_max_ms", lat.MaxMs())
                   .Set("stopped_by", stopped_by));
}

// ---- perf produce ----

struct PerfProduceArgs {
  std::string topic;
  int64_t count = 1000000;
  double duration_s = 60;
  int32_t record_size = 100;
  int64_t throughput = -1;  // records/s; -1: as fast as acknowledgements allow
  int16_t acks = -1;
  std::string compression = "none";
  int32_t batch_bytes = 16384;  // batch.size
  int32_t in_flight = 5;        // max.in.flight.requests.per.connection
  int32_t partition = -1;
  int64_t progress_ms = 1000;
};

absl::Status PerfProduce(Context& ctx, const PerfProduceArgs& a) {
  absl::StatusOr<protocol::Compression> codec = CompressionOf(a.compression);
  if (!codec.ok()) return codec.status();
  if (a.acks != -1 && a.acks != 0 && a.acks != 1) {
    return absl::InvalidArgumentError("--acks must be -1 (all), 0 or 1");
  }
  auto topic = DescribeTopic(ctx, a.topic, /*auto_create=*/true);
  if (!topic.ok()) return topic.status();
  const auto partitions = static_cast<int32_t>(topic->partitions.size());
  if (a.partition >= partitions) {
    return KafkaError(static_cast<int16_t>(protocol::ErrorCode::kUnknownTopicOrPartition),
                      std::nullopt, absl::StrCat(a.topic, "-", a.partition));
  }
  CatchInterrupts();
  // Values are slices of one buffer of random capital letters (as Kafka's tool), so
  // codecs see text-like data rather than noise.
  constexpr size_t kSpread = 4096;
  std::string pool(static_cast<size_t>(a.record_size) + kSpread, 'A');
  std::mt19937 rng(42);
  for (char& ch : pool) ch = static_cast<char>('A' + rng() % 26);
  const int64_t per_batch = std::max<int64_t>(1, a.batch_bytes / std::max(1, a.record_size));

  struct Shared {
    std::mutex mu;
    std::condition_variable cv;
    int32_t in_flight = 0;
    int64_t acked = 0;
    absl::Status error;
    Latencies latencies;
    Clock::time_point last_ack;
  } st;
  Progress progress("perf produce", std::chrono::milliseconds(a.progress_ms));
  const auto start = Clock::now();
  st.last_ack = start;
  const auto deadline = start + std::chrono::duration_cast<Clock::duration>(
                                    std::chrono::duration<double>(a.duration_s));
  // Waits under `lock` until `ready`, printing progress meanwhile; false at the deadline.
  auto wait = [&](std::unique_lock<std::mutex>& lock, Clock::time_point until, auto ready) {
    while (!ready()) {
      if (Clock::now() >= until) return false;
      st.cv.wait_until(lock, std::min(until, progress.next()));
      progress.Tick();
    }
    return true;
  };

  int64_t sent = 0;
  int32_t next_partition = 0;
  std::string stopped_by = "count";
  while (sent < a.count) {
    if (Interrupted()) {
      stopped_by = "interrupt";
      break;
    }
    if (Clock::now() >= deadline) {
      stopped_by = "duration";
      break;
    }
    const int64_t n = std::min(per_batch, a.count - sent);
    {
      std::unique_lock lock(st.mu);
      if (a.throughput > 0) {  // hold back until this batch is due
        const auto due =
            start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(
                        static_cast<double>(sent) / static_cast<double>(a.throughput)));
        wait(lock, std::min(due, deadline), [] { return false; });
      }
      if (!wait(lock, deadline, [&] { return st.in_flight < a.in_flight || !st.error.ok(); })) {
        continue;  // the deadline check above ends the loop
      }
      if (!st.error.ok()) break;
      ++st.in_flight;
    }
    const int32_t p = a.partition >= 0 ? a.partition : next_partition;
    next_partition = (next_partition + 1) % partitions;
    protocol::RecordBatchBuilder b;
    b.SetCompression(*codec);
    const int64_t ts = std::chrono::duration_cast<std::chrono::milliseconds>(
                           std::chrono::system_clock::now().time_since_epoch())
                           .count();
    for (int64_t i = 0; i < n; ++i) {
      const size_t at = static_cast<size_t>((sent + i) * 31) % kSpread;
      b.Add(ts, std::nullopt,
            std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(pool.data()) + at,
                                     static_cast<size_t>(a.record_size)));
    }
    absl::StatusOr<std::vector<uint8_t>> batch = std::move(b).Build();
    if (!batch.ok()) {
      std::lock_guard lock(st.mu);
      --st.in_flight;
      st.error = batch.status();
      break;
    }
    const auto sent_at = Clock::now();
    ctx.client().CallRaw(
        Target::Leader(a.topic, p),
        ProduceCall(a.topic, p, a.acks, static_cast<int32_t>(ctx.options.request_timeout.count()),
                    *std::move(batch)),
        [&st, &progress, &a, p, n, sent_at](absl::StatusOr<client::RawResponse> r) {
          const auto latency = Clock::now() - sent_at;
          absl::Status s = r.status();
          if (s.ok() && a.acks != 0) s = ProduceOutcome(*r, a.topic, p).status();
          std::lock_guard lock(st.mu);
          --st.in_flight;
          if (!s.ok()) {
            if (st.error.ok()) st.error = s;
          } else {
            st.acked += n;
            st.latencies.Add(latency, n);
            progress.Count(n, n * a.record_size);
            progress.Latency(latency, n);
            st.last_ack = Clock::now();
          }
          st.cv.notify_all();
        });
    sent += n;
  }
  {
    // Every call ends by its own request timeout, so this wait is bounded.
    std::unique_lock lock(st.mu);
    wait(lock, Clock::time_point::max(), [&] { return st.in_flight == 0; });
  }
  progress.Finish();
  if (!st.error.ok()) return st.error;
  Summarize(ctx, "produce", st.acked, st.acked * a.record_size, st.last_ack - start, st.latencies,
            "send to acknowledgement, per record", stopped_by);
  return absl::OkStatus();
}

// ---- perf consume ----

struct PerfConsumeArgs {
  std::string topic;
  int64_t count = -1;  // -1: every record up to the log end when the test starts
  double duration_s = 60;
  int64_t idle_ms = 10000;
  int32_t fetch_max_bytes = 50 << 20;
  int32_t partition_max_bytes = 1 << 20;
  bool read_committed = false;
  int64_t progress_ms = 1000;
};

absl::Status PerfConsume(Context& ctx, const PerfConsumeArgs& a) {
  auto topic = DescribeTopic(ctx, a.topic);
  if (!topic.ok()) return topic.status();
  std::vector<int32_t> parts;
  for (const auto& p : topic->partitions) parts.push_back(p.partition);
  auto begin = ListOffsets(ctx, a.topic, parts, kEarliest);
  if (!begin.ok()) return begin.status();
  auto end = ListOffsets(ctx, a.topic, parts, kLatest);
  if (!end.ok()) return end.status();
  std::map<int32_t, int64_t> pos;
  int64_t available = 0;
  for (int32_t p : parts) {
    pos[p] = (*begin)[p].offset;
    available += (*end)[p].offset - (*begin)[p].offset;
  }
  // Without --count: what the log holds now (fewer if some are control records).
  const int64_t goal = a.count >= 0 ? a.count : available;
  CatchInterrupts();

  FetchOptions fo;
  fo.read_committed = a.read_committed;
  fo.max_bytes = a.fetch_max_bytes;
  fo.partition_max_bytes = a.partition_max_bytes;
  fo.max_wait_ms = 100;
  Fetcher fetcher(ctx, *topic, fo);
  Progress progress("perf consume", std::chrono::milliseconds(a.progress_ms));
  Latencies latencies;
  int64_t records = 0, bytes = 0, counted_bytes = 0;
  const auto start = Clock::now();
  const auto deadline = start + std::chrono::duration_cast<Clock::duration>(
                                    std::chrono::duration<double>(a.duration_s));
  auto last_data = start;
  auto last_record = start;
  std::string stopped_by = "count";
  auto reached_end = [&] {
    if (a.count >= 0) return false;
    for (int32_t p : parts) {
      if (pos[p] < (*end)[p].offset) return false;
    }
    return true;
  };
  while (records < goal && !reached_end()) {
    if (Interrupted()) {
      stopped_by = "interrupt";
      break;
    }
    const auto now = Clock::now();
    if (now >= deadline) {
      stopped_by = "duration";
      break;
    }
    if (now - last_data >= std::chrono::milliseconds(a.idle_ms)) {
      stopped_by = "idle timeout";
      break;
    }
    absl::StatusOr<FetchRound> round = fetcher.Poll(pos, [&](int32_t, const protocol::Record& r) {
      if (records >= goal) return false;
      ++records;
      bytes += static_cast<int64_t>((r.key ? r.key->size() : 0) + (r.value ? r.value->size() : 0));
      return true;
    });
    if (!round.ok()) return round.status();
    for (const FetchRound::Call& c : round->calls) {
      latencies.Add(c.latency, 1);
      progress.Latency(c.latency, 1);
    }
    progress.Count(round->records, bytes - counted_bytes);
    counted_bytes = bytes;
    if (round->records > 0) last_data = last_record = Clock::now();
    progress.Tick();
  }
  progress.Finish();
  if (a.count < 0 && stopped_by == "count") stopped_by = "log end";
  Summarize(ctx, "consume", records, bytes, last_record - start, latencies,
            "Fetch request to response, per request", stopped_by);
  return absl::OkStatus();
}

}  // namespace

void AddPerfCommands(CLI::App& app, Context& ctx) {
  CLI::App* perf = app.add_subcommand("perf", "load generators: produce and consume throughput")
                       ->require_subcommand(1);

  auto p = std::make_shared<PerfProduceArgs>();
  CLI::App* produce = perf->add_subcommand(
      "produce",
      "write records as fast as the cluster acknowledges them (or at --throughput)\n"
      "  e.g. fjordctl perf produce bench --count 1000000 --record-size 100 --acks -1");
  produce->add_option("topic", p->topic, "the topic (created if the broker auto-creates)")
      ->required();
  produce->add_option("--count,-n", p->count, "records to send (default 1000000)")
      ->check(CLI::PositiveNumber);
  produce->add_option("--duration", p->duration_s, "stop after this many seconds (default 60)")
      ->check(CLI::PositiveNumber);
  produce->add_option("--record-size,-s", p->record_size, "value bytes per record (default 100)")
      ->check(CLI::NonNegativeNumber);
  produce->add_option("--throughput", p->throughput,
                      "at most this many records/s (default: unthrottled)");
  produce->add_option("--acks", p->acks, "-1 (all, default), 1 or 0");
  produce->add_option("--compression,-z", p->compression, "none, gzip, snappy, lz4 or zstd");
  produce
      ->add_option("--batch-bytes", p->batch_bytes,
                   "record bytes per batch, as batch.size (default 16384)")
      ->check(CLI::PositiveNumber);
  produce
      ->add_option("--in-flight", p->in_flight,
                   "requests awaiting acknowledgement at once (default 5)")
      ->check(CLI::PositiveNumber);
  produce->add_option("--partition,-p", p->partition,
                      "only this partition (default: batches round robin)");
  produce
      ->add_option("--progress-interval", p->progress_ms,
                   "ms between progress lines on stderr; 0: none (default 1000)")
      ->check(CLI::NonNegativeNumber);
  OnRun(produce, ctx, [&ctx, p] { return PerfProduce(ctx, *p); });

  auto c = std::make_shared<PerfConsumeArgs>();
  CLI::App* consume = perf->add_subcommand("consume",
                                           "read a topic from the start as fast as fetches return\n"
                                           "  e.g. fjordctl perf consume bench --count 1000000");
  consume->add_option("topic", c->topic, "the topic")->required();
  consume
      ->add_option("--count,-n", c->count,
                   "records to read (default: all up to the log end at the start)")
      ->check(CLI::NonNegativeNumber);
  consume->add_option("--duration", c->duration_s, "stop after this many seconds (default 60)")
      ->check(CLI::PositiveNumber);
  consume
      ->add_option("--idle-timeout", c->idle_ms,
                   "stop after this many ms without records (default 10000)")
      ->check(CLI::PositiveNumber);
  consume
      ->add_option("--fetch-max-bytes", c->fetch_max_bytes,
                   "bytes per Fetch response, as fetch.max.bytes (default 52428800)")
      ->check(CLI::PositiveNumber);
  consume
      ->add_option("--partition-max-bytes", c->partition_max_bytes,
                   "bytes per partition per Fetch (default 1048576)")
      ->check(CLI::PositiveNumber);
  consume->add_flag("--read-committed", c->read_committed, "isolation read_committed");
  consume
      ->add_option("--progress-interval", c->progress_ms,
                   "ms between progress lines on stderr; 0: none (default 1000)")
      ->check(CLI::NonNegativeNumber);
  OnRun(consume, ctx, [&ctx, c] { return PerfConsume(ctx, *c); });
}

}  // namespace fjord::ctl
