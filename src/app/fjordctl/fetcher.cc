#include "fetcher.h"

#include <condition_variable>
#include <mutex>
#include <optional>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "fjord/protocol/messages/fetch_request.h"
#include "fjord/protocol/messages/fetch_response.h"
#include "lookup.h"

namespace fjord::ctl {

using client::Target;
using protocol::ErrorCode;

Fetcher::Fetcher(Context& ctx, client::TopicInfo topic, FetchOptions options)
    : ctx_(ctx), topic_(std::move(topic)), options_(options) {}

absl::StatusOr<FetchRound> Fetcher::Poll(std::map<int32_t, int64_t>& positions,
                                         const RecordFn& on_record) {
  if (refresh_) {
    auto t = DescribeTopic(ctx_, topic_.name);
    if (!t.ok()) return t.status();
    topic_ = *std::move(t);
    refresh_ = false;
  }
  std::map<int32_t, std::vector<int32_t>> by_leader;
  for (const auto& [p, pos] : positions) {
    const int32_t leader = p >= 0 && static_cast<size_t>(p) < topic_.partitions.size()
                               ? topic_.partitions[p].leader
                               : -1;
    if (leader < 0) {
      refresh_ = true;
    } else {
      by_leader[leader].push_back(p);
    }
  }
  FetchRound round;
  if (by_leader.empty()) {
    std::this_thread::sleep_for(ctx_.options.retry_backoff);
    return round;
  }

  // One Fetch per leader, all in flight together; the requests outlive the calls.
  struct Sent {
    protocol::FetchRequest request;
    std::chrono::steady_clock::time_point at;
    std::chrono::nanoseconds latency{0};
    std::optional<absl::StatusOr<client::RawResponse>> answer;
  };
  std::vector<Sent> sent(by_leader.size());
  std::mutex mu;
  std::condition_variable cv;
  size_t outstanding = sent.size();
  size_t i = 0;
  for (const auto& [leader, parts] : by_leader) {
    Sent& s = sent[i++];
    protocol::FetchRequest& req = s.request;
    req.replica_id = NodeId(-1);
    req.max_wait_ms = options_.max_wait_ms;
    req.min_bytes = 1;
    req.max_bytes = options_.max_bytes;
    req.isolation_level = options_.read_committed ? 1 : 0;
    protocol::FetchRequest::FetchTopic ft;
    ft.topic = topic_.name;
    ft.topic_id = topic_.id;
    for (int32_t p : parts) {
      protocol::FetchRequest::FetchPartition fp;
      fp.partition = PartitionId(p);
      fp.fetch_offset = Offset(positions[p]);
      fp.partition_max_bytes = options_.partition_max_bytes;
      ft.partitions.push_back(fp);
    }
    req.topics.push_back(std::move(ft));
    s.at = std::chrono::steady_clock::now();
    ctx_.client().CallRaw(Target::Broker(leader), client::Client::RawCallOf(req, 12, 4),
                          [&s, &mu, &cv, &outstanding](absl::StatusOr<client::RawResponse> r) {
                            std::lock_guard lock(mu);
                            s.latency = std::chrono::steady_clock::now() - s.at;
                            s.answer = std::move(r);
                            if (--outstanding == 0) cv.notify_one();
                          });
  }
  {
    std::unique_lock lock(mu);
    cv.wait(lock, [&] { return outstanding == 0; });
  }

  bool stopped = false;
  for (Sent& s : sent) {
    if (!s.answer->ok()) return s.answer->status();
    const client::RawResponse& raw = **s.answer;
    protocol::FetchResponse resp;
    if (absl::Status st = protocol::DecodeMessage(raw.body, raw.version, &resp); !st.ok()) {
      return st;
    }
    if (absl::Status st = KafkaError(resp.error_code, std::nullopt, "Fetch"); !st.ok()) return st;
    FetchRound::Call call{s.latency, 0};
    for (const auto& rt : resp.responses) {
      for (const auto& pd : rt.partitions) {
        const int32_t p = pd.partition_index.value;
        auto pos = positions.find(p);
        if (pos == positions.end()) continue;
        const auto e = static_cast<ErrorCode>(pd.error_code);
        if (e == ErrorCode::kOffsetOutOfRange) {
          auto o = ListOffsets(ctx_, topic_.name, {p}, options_.reset_to);
          if (!o.ok()) return o.status();
          pos->second = (*o)[p].offset;
          continue;
        }
        if (client::IsRoutingError(e)) {
          refresh_ = true;
          continue;
        }
        if (absl::Status st =
                KafkaError(pd.error_code, std::nullopt, absl::StrCat(topic_.name, "-", p));
            !st.ok()) {
          return st;
        }
        if (stopped) continue;
        absl::StatusOr<bool> more = Deliver(pd, pos->second, on_record, &call.records);
        if (!more.ok()) return more.status();
        stopped = !*more;
      }
    }
    round.records += call.records;
    round.calls.push_back(call);
  }
  return round;
}

absl::StatusOr<bool> Fetcher::Deliver(const protocol::FetchResponse::PartitionData& pd,
                                      int64_t& position, const RecordFn& on_record,
                                      int64_t* delivered) {
  const int32_t p = pd.partition_index.value;
  // read_committed: a producer's batches from the first offset of its aborted transaction
  // are skipped until its marker (a control batch) ends it.
  std::map<int64_t, int64_t> aborted_from;  // producer: first offset
  if (options_.read_committed && pd.aborted_transactions) {
    for (const auto& at : *pd.aborted_transactions) {
      aborted_from[at.producer_id.value] = at.first_offset.value;
    }
  }
  std::set<int64_t> aborting;
  protocol::RecordBatchIterator it(pd.records.bytes);
  while (it.Next()) {
    const protocol::RecordBatchView& batch = it.batch();
    const auto& h = batch.header();
    const int64_t pid = h.producer_id.value;
    if (h.is_control()) {
      aborting.erase(pid);
      position = std::max(position, h.next_offset().value);
      continue;
    }
    if (auto ab = aborted_from.find(pid);
        ab != aborted_from.end() && h.is_transactional() && h.base_offset.value >= ab->second) {
      aborting.insert(pid);
      aborted_from.erase(ab);
    }
    if (aborting.contains(pid)) {
      position = std::max(position, h.next_offset().value);
      continue;
    }
    protocol::RecordReader reader(batch);
    while (reader.Next()) {
      const protocol::Record& r = reader.record();
      if (r.offset.value < position) continue;  // a compressed batch starts before it
      if (!on_record(p, r)) return false;
      position = r.offset.value + 1;
      ++*delivered;
    }
    if (!reader.status().ok()) return reader.status();
    position = std::max(position, h.next_offset().value);
  }
  if (!it.status().ok()) return it.status();
  return true;
}

}  // namespace fjord::ctl
