// fjordctl produce | consume: data in and out, interoperable with any Kafka client.
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>
#include <thread>

#include "absl/strings/str_cat.h"
#include "context.h"
#include "fetcher.h"
#include "fjord/client/group_member.h"
#include "fjord/protocol/messages/init_producer_id_request.h"
#include "fjord/protocol/messages/init_producer_id_response.h"
#include "fjord/protocol/messages/offset_fetch_request.h"
#include "fjord/protocol/messages/offset_fetch_response.h"
#include "fjord/protocol/record_batch.h"
#include "fjord/protocol/record_batch_builder.h"
#include "lookup.h"

namespace fjord::ctl {

using client::Target;
using protocol::ErrorCode;

namespace {

// Kafka's default partitioner for keyed records: murmur2 of the key, made positive,
// modulo the partition count (so keys land where Java clients put them).
uint32_t Murmur2(std::span<const uint8_t> data) {
  const uint32_t m = 0x5bd1e995;
  const int r = 24;
  uint32_t h = 0x9747b28c ^ static_cast<uint32_t>(data.size());
  const size_t n4 = data.size() / 4;
  for (size_t i = 0; i < n4; ++i) {
    const size_t at = i * 4;
    uint32_t k = data[at] | (data[at + 1] << 8) | (data[at + 2] << 16) |
                 (static_cast<uint32_t>(data[at + 3]) << 24);
    k *= m;
    k ^= k >> r;
    k *= m;
    h *= m;
    h ^= k;
  }
  const size_t tail = data.size() & ~size_t{3};
  switch (data.size() % 4) {
    case 3:
      h ^= static_cast<uint32_t>(data[tail + 2]) << 16;
      [[fallthrough]];
    case 2:
      h ^= static_cast<uint32_t>(data[tail + 1]) << 8;
      [[fallthrough]];
    case 1:
      h ^= data[tail];
      h *= m;
  }
  h ^= h >> 13;
  h *= m;
  h ^= h >> 15;
  return h;
}

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// ---- produce ----

struct ProduceArgs {
  std::string topic;
  int32_t partition = -1;
  std::string key_separator;
  std::vector<std::string> headers;
  std::string compression = "none";
  int16_t acks = -1;
  bool idempotent = false;
  std::string file;
  int32_t batch_records = 1000;
};

struct PendingRecord {
  std::optional<std::string> key;
  std::string value;
};

absl::Status Produce(Context& ctx, const ProduceArgs& a) {
  absl::StatusOr<protocol::Compression> codec = CompressionOf(a.compression);
  if (!codec.ok()) return codec.status();
  if (a.acks != -1 && a.acks != 0 && a.acks != 1) {
    return absl::InvalidArgumentError("--acks must be -1 (all), 0 or 1");
  }
  if (a.idempotent && a.acks != -1) {
    return absl::InvalidArgumentError("--idempotent needs --acks -1 (as Kafka's producer does)");
  }
  std::vector<std::pair<std::string, std::string>> headers;
  for (const std::string& h : a.headers) {
    auto kv = SplitSetting(h);
    if (!kv.ok()) return kv.status();
    headers.push_back(*kv);
  }
  auto topic = DescribeTopic(ctx, a.topic, /*auto_create=*/true);
  if (!topic.ok()) return topic.status();
  const int32_t partitions = static_cast<int32_t>(topic->partitions.size());
  if (a.partition >= partitions) {
    return KafkaError(static_cast<int16_t>(ErrorCode::kUnknownTopicOrPartition), std::nullopt,
                      absl::StrCat(a.topic, "-", a.partition));
  }
  ProducerId pid(-1);
  ProducerEpoch epoch(-1);
  if (a.idempotent) {
    protocol::InitProducerIdRequest req;
    req.transactional_id.reset();
    req.transaction_timeout_ms = -1;
    auto resp = ctx.client().Call<protocol::InitProducerIdResponse>(Target::Any(), req);
    if (!resp.ok()) return resp.status();
    if (absl::Status s = KafkaError(resp->error_code, std::nullopt, "InitProducerId"); !s.ok()) {
      return s;
    }
    pid = resp->producer_id;
    epoch = resp->producer_epoch;
  }
  std::map<int32_t, int32_t> sequences;
  std::map<int32_t, std::pair<int64_t, int64_t>> written;  // partition: first, last offset
  int64_t total = 0;

  auto send = [&](int32_t p, const std::vector<PendingRecord>& records) -> absl::Status {
    protocol::RecordBatchBuilder b;
    b.SetCompression(*codec);
    if (a.idempotent) b.SetProducer(pid, epoch, sequences[p]);
    std::vector<protocol::RecordHeader> hs;
    for (const auto& [k, v] : headers) hs.push_back({k, protocol::AsBytes(v)});
    const int64_t ts = NowMs();
    for (const PendingRecord& r : records) {
      b.Add(ts, r.key ? protocol::OptionalBytes(protocol::AsBytes(*r.key)) : std::nullopt,
            protocol::AsBytes(r.value), hs);
    }
    absl::StatusOr<std::vector<uint8_t>> batch = std::move(b).Build();
    if (!batch.ok()) return batch.status();
    auto raw = ctx.client().CallRawSync(
        Target::Leader(a.topic, p),
        ProduceCall(a.topic, p, a.acks, static_cast<int32_t>(ctx.options.request_timeout.count()),
                    *std::move(batch)));
    if (!raw.ok()) return raw.status();
    total += static_cast<int64_t>(records.size());
    sequences[p] += static_cast<int32_t>(records.size());
    if (a.acks == 0) return absl::OkStatus();
    absl::StatusOr<int64_t> first = ProduceOutcome(*raw, a.topic, p);
    if (!first.ok()) return first.status();
    const int64_t last = *first + static_cast<int64_t>(records.size()) - 1;
    auto [it, fresh] = written.emplace(p, std::make_pair(*first, last));
    if (!fresh) it->second.second = last;
    return absl::OkStatus();
  };

  std::ifstream file;
  if (!a.file.empty()) {
    file.open(a.file);
    if (!file) return absl::NotFoundError("cannot read " + a.file);
  }
  std::istream& in = a.file.empty() ? std::cin : file;
  std::map<int32_t, std::vector<PendingRecord>> pending;
  int32_t next_partition = 0;
  std::string line;
  int64_t line_no = 0;
  while (std::getline(in, line)) {
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    PendingRecord r;
    if (!a.key_separator.empty()) {
      const size_t at = line.find(a.key_separator);
      if (at == std::string::npos) {
        return absl::InvalidArgumentError(
            absl::StrCat("line ", line_no, " has no key separator '", a.key_separator, "'"));
      }
      r.key = line.substr(0, at);
      r.value = line.substr(at + a.key_separator.size());
    } else {
      r.value = line;
    }
    int32_t p = a.partition;
    if (p < 0) {
      p = r.key ? static_cast<int32_t>((Murmur2(protocol::AsBytes(*r.key)) & 0x7fffffff) %
                                       static_cast<uint32_t>(partitions))
                : next_partition;
    }
    auto& batch = pending[p];
    batch.push_back(std::move(r));
    if (static_cast<int32_t>(batch.size()) >= a.batch_records) {
      if (absl::Status s = send(p, batch); !s.ok()) return s;
      batch.clear();
      next_partition = (next_partition + 1) % partitions;  // unkeyed: one batch per partition
    }
  }
  for (auto& [p, batch] : pending) {
    if (batch.empty()) continue;
    if (absl::Status s = send(p, batch); !s.ok()) return s;
  }
  Json jparts = Json::MakeArray();
  for (const auto& [p, range] : written) {
    jparts.Push(Json::MakeObject()
                    .Set("partition", p)
                    .Set("first_offset", range.first)
                    .Set("last_offset", range.second));
  }
  ctx.Done(
      absl::StrCat("produced ", total, " record(s) to ", a.topic),
      Json::MakeObject().Set("topic", a.topic).Set("records", total).Set("partitions", jparts));
  return absl::OkStatus();
}

// ---- consume ----

struct ConsumeArgs {
  std::string topic;
  std::vector<int32_t> partitions;
  std::string group;
  bool from_beginning = false;
  bool from_end = false;
  std::optional<int64_t> offset;
  std::string from_time;
  int64_t count = -1;
  int64_t idle_ms = 5000;
  std::string output = "value";
  std::string format_string;
  std::string key_separator = "\t";
  bool read_committed = false;
};

std::string Text(const std::optional<std::span<const uint8_t>>& b) {
  if (!b) return "";
  return std::string(reinterpret_cast<const char*>(b->data()), b->size());
}

std::string Render(const ConsumeArgs& a, const std::string& topic, int32_t partition,
                   const protocol::Record& r) {
  if (a.output == "value") return Text(r.value);
  if (a.output == "kv") return Text(r.key) + a.key_separator + Text(r.value);
  if (a.output == "json") {
    Json headers = Json::MakeObject();
    for (const auto& h : r.headers)
      headers.Set(std::string(h.key), h.value ? Json(Text(h.value)) : Json());
    return Json::MakeObject()
        .Set("topic", topic)
        .Set("partition", partition)
        .Set("offset", r.offset.value)
        .Set("timestamp", r.timestamp)
        .Set("key", r.key ? Json(Text(r.key)) : Json())
        .Set("value", r.value ? Json(Text(r.value)) : Json())
        .Set("headers", headers)
        .Dump();
  }
  // A user's format: %t topic, %p partition, %o offset, %T timestamp, %k key, %v value,
  // %h headers (k=v,...), %% a percent sign; \n and \t escapes.
  std::string out;
  const std::string& f = a.format_string;
  for (size_t i = 0; i < f.size(); ++i) {
    if (f[i] == '\\' && i + 1 < f.size() && (f[i + 1] == 'n' || f[i + 1] == 't')) {
      out += f[++i] == 'n' ? '\n' : '\t';
    } else if (f[i] == '%' && i + 1 < f.size()) {
      switch (f[++i]) {
        case 't':
          out += topic;
          break;
        case 'p':
          out += std::to_string(partition);
          break;
        case 'o':
          out += std::to_string(r.offset.value);
          break;
        case 'T':
          out += std::to_string(r.timestamp);
          break;
        case 'k':
          out += Text(r.key);
          break;
        case 'v':
          out += Text(r.value);
          break;
        case 'h':
          for (size_t h = 0; h < r.headers.size(); ++h) {
            absl::StrAppend(&out, h ? "," : "", std::string(r.headers[h].key), "=",
                            Text(r.headers[h].value));
          }
          break;
        default:
          out += f[i];
      }
    } else {
      out += f[i];
    }
  }
  return out;
}

// The committed offsets of `group` for `partitions` (those it has).
absl::StatusOr<std::map<int32_t, int64_t>> Committed(Context& ctx, const std::string& group,
                                                     const std::string& topic,
                                                     const std::vector<int32_t>& partitions) {
  std::map<int32_t, int64_t> out;
  if (partitions.empty()) return out;
  protocol::OffsetFetchRequest req;
  req.group_id = group;
  req.topics.emplace();
  protocol::OffsetFetchRequest::OffsetFetchRequestTopic t;
  t.name = topic;
  for (int32_t p : partitions) t.partition_indexes.push_back(PartitionId(p));
  req.topics->push_back(t);
  auto resp =
      ctx.client().Call<protocol::OffsetFetchResponse>(Target::Group(group), req, nullptr, 7, 1);
  if (!resp.ok()) return resp.status();
  if (absl::Status s = KafkaError(resp->error_code, std::nullopt, "group " + group); !s.ok()) {
    return s;
  }
  for (const auto& rt : resp->topics) {
    for (const auto& rp : rt.partitions) {
      if (rp.error_code == 0 && rp.committed_offset.value >= 0) {
        out[rp.partition_index.value] = rp.committed_offset.value;
      }
    }
  }
  return out;
}

absl::Status Consume(Context& ctx, const ConsumeArgs& a) {
  const int starts = a.from_beginning + a.from_end + a.offset.has_value() + !a.from_time.empty();
  if (starts > 1) {
    return absl::InvalidArgumentError(
        "give at most one of --from-beginning, --from-end, --offset, --from-time");
  }
  if (!a.group.empty() && (a.offset || !a.partitions.empty())) {
    return absl::InvalidArgumentError(
        "with --group the group assigns the partitions and keeps the offsets: drop --partition "
        "and --offset (`fjordctl group reset-offsets` moves a group)");
  }
  if (a.output != "value" && a.output != "kv" && a.output != "json" && a.output != "format") {
    return absl::InvalidArgumentError("--output must be value, kv, json or format");
  }
  if (a.output == "format" && a.format_string.empty()) {
    return absl::InvalidArgumentError("--output format needs --format-string");
  }
  // Where a partition without a position starts (for a group: one without a committed
  // offset, as auto.offset.reset).
  int64_t start_at = a.from_beginning ? kEarliest : kLatest;
  if (!a.from_time.empty()) {
    auto t = ParseTime(a.from_time);
    if (!t.ok()) return t.status();
    start_at = *t;
  }
  auto topic = DescribeTopic(ctx, a.topic);
  if (!topic.ok()) return topic.status();
  CatchInterrupts();

  std::unique_ptr<client::GroupMember> member;
  if (!a.group.empty()) {
    client::GroupMemberOptions m;
    m.group = a.group;
    m.topics = {a.topic};
    member = std::make_unique<client::GroupMember>(ctx.client(), std::move(m));
  }
  // This consumer's partitions and where each is read from next.
  std::map<int32_t, int64_t> pos;
  auto take = [&](const std::vector<int32_t>& parts) -> absl::Status {
    pos.clear();
    if (member) {
      auto committed = Committed(ctx, a.group, a.topic, parts);
      if (!committed.ok()) return committed.status();
      pos = *std::move(committed);
    }
    std::vector<int32_t> unset;
    for (int32_t p : parts) {
      if (!pos.contains(p)) unset.push_back(p);
    }
    if (unset.empty()) return absl::OkStatus();
    if (a.offset) {
      for (int32_t p : unset) pos[p] = *a.offset;
      return absl::OkStatus();
    }
    auto o = ListOffsets(ctx, a.topic, unset, start_at);
    if (!o.ok()) return o.status();
    std::vector<int32_t> past;  // --from-time later than every record: start at the end
    for (int32_t p : unset) {
      if ((*o)[p].offset >= 0) {
        pos[p] = (*o)[p].offset;
      } else {
        past.push_back(p);
      }
    }
    if (past.empty()) return absl::OkStatus();
    auto end = ListOffsets(ctx, a.topic, past, kLatest);
    if (!end.ok()) return end.status();
    for (int32_t p : past) pos[p] = (*end)[p].offset;
    return absl::OkStatus();
  };
  auto join = [&]() -> absl::Status {
    auto mine = member->Join();
    if (!mine.ok()) return mine.status();
    return take((*mine)[a.topic]);
  };
  if (member) {
    if (absl::Status s = join(); !s.ok()) return s;
  } else {
    std::vector<int32_t> parts = a.partitions;
    if (parts.empty()) {
      for (const auto& p : topic->partitions) parts.push_back(p.partition);
    }
    if (absl::Status s = take(parts); !s.ok()) return s;
  }

  FetchOptions fo;
  fo.read_committed = a.read_committed;
  fo.reset_to = a.from_end ? kLatest : kEarliest;
  Fetcher fetcher(ctx, *topic, fo);
  int64_t printed = 0;
  auto last_data = std::chrono::steady_clock::now();
  const auto idle = std::chrono::milliseconds(a.idle_ms);
  auto print = [&](int32_t p, const protocol::Record& r) {
    if (a.count >= 0 && printed >= a.count) return false;
    std::string text = Render(a, a.topic, p, r);
    text.push_back('\n');
    std::fwrite(text.data(), 1, text.size(), stdout);
    ++printed;
    return true;
  };
  while ((a.count < 0 || printed < a.count) && !Interrupted()) {
    if (std::chrono::steady_clock::now() - last_data >= idle) break;
    if (member && member->rebalance_needed()) {
      // Eager rebalancing: commit what was read before the partitions are taken away.
      if (absl::Status s = member->Commit({{a.topic, pos}}); !s.ok()) {
        std::fprintf(stderr, "fjordctl: commit before rebalance failed: %s\n",
                     std::string(s.message()).c_str());
      }
      if (absl::Status s = join(); !s.ok()) return s;
      last_data = std::chrono::steady_clock::now();
      continue;
    }
    if (pos.empty()) {  // a group member with no partitions waits for a rebalance
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      continue;
    }
    absl::StatusOr<FetchRound> round = fetcher.Poll(pos, print);
    if (!round.ok()) return round.status();
    std::fflush(stdout);
    if (round->records > 0) last_data = std::chrono::steady_clock::now();
  }
  if (!member) return absl::OkStatus();
  absl::Status committed = member->Commit({{a.topic, pos}});
  absl::Status left = member->Leave();
  return committed.ok() ? left : committed;
}

}  // namespace

void AddDataCommands(CLI::App& app, Context& ctx) {
  auto p = std::make_shared<ProduceArgs>();
  CLI::App* produce = app.add_subcommand(
      "produce",
      "write records: one per line of stdin or --file\n"
      "  e.g. printf 'k1:v1\\nk2:v2\\n' | fjordctl produce orders --key-separator :");
  produce->add_option("topic", p->topic, "the topic")->required();
  produce->add_option("--partition,-p", p->partition,
                      "this partition (default: by key as Kafka's partitioner, else round robin)");
  produce->add_option("--key-separator,-K", p->key_separator,
                      "split each line into key and value at the first occurrence");
  produce->add_option("--header,-H", p->headers, "a header key=value on every record (repeatable)");
  produce->add_option("--compression,-z", p->compression, "none, gzip, snappy, lz4 or zstd");
  produce->add_option("--acks", p->acks, "-1 (all, default), 1 or 0");
  produce->add_flag("--idempotent", p->idempotent, "an idempotent producer (KIP-98)");
  produce->add_option("--file,-f", p->file, "read lines from this file instead of stdin");
  produce->add_option("--batch-records", p->batch_records, "records per batch (default 1000)")
      ->check(CLI::PositiveNumber);
  OnRun(produce, ctx, [&ctx, p] { return Produce(ctx, *p); });

  auto c = std::make_shared<ConsumeArgs>();
  CLI::App* consume = app.add_subcommand(
      "consume",
      "read records to stdout\n"
      "  e.g. fjordctl consume orders --from-beginning --count 10 --output json");
  consume->add_option("topic", c->topic, "the topic")->required();
  consume->add_option("--partition,-p", c->partitions, "only these partitions (repeatable)");
  consume->add_option("--group,-g", c->group,
                      "consume as a member of this group: the group assigns the partitions "
                      "(rebalancing with its other members), reading starts at its committed "
                      "offsets, and they are committed on rebalance and exit");
  consume->add_flag("--from-beginning", c->from_beginning,
                    "start at the log start (with --group: where nothing is committed)");
  consume->add_flag("--from-end", c->from_end, "start at the log end (the default)");
  consume->add_option("--offset", c->offset, "start at this offset");
  consume->add_option("--from-time", c->from_time, "start at the first record at or after a time");
  consume->add_option("--count,-n", c->count, "stop after this many records");
  consume->add_option("--idle-timeout", c->idle_ms,
                      "stop after this many ms without new records (default 5000)");
  consume->add_option("--output,-o", c->output, "value (default), kv, json or format");
  consume->add_option("--format-string", c->format_string,
                      "with --output format: %t %p %o %T %k %v %h, \\n, \\t");
  consume->add_option("--key-separator", c->key_separator, "with --output kv (default a tab)");
  consume->add_flag("--read-committed", c->read_committed,
                    "only committed transactional records (isolation read_committed)");
  OnRun(consume, ctx, [&ctx, c] { return Consume(ctx, *c); });
}

}  // namespace fjord::ctl
