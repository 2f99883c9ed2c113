// Fetch: read each partition on its loop, trim to the request's byte budget, and answer
// with the record bytes spliced in from the segment files (sendfile). When fewer than
// min_bytes are available the request waits — without polling — until an append to one
// of its partitions or max_wait_ms, whichever comes first (Kafka's DelayedFetch).
//
// Fetch sessions (KIP-227, fetch_session.h) decide which partitions a request reads and
// which of them its response carries.

#include <algorithm>
#include <chrono>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "broker.h"
#include "fjord/config/broker_config.h"
#include "fjord/protocol/messages/fetch_request.h"
#include "fjord/protocol/messages/fetch_response.h"
#include "fjord/server/fetch_session.h"

namespace fjord::server {

using protocol::ErrorCode;

namespace {

struct FetchItem {
  size_t slot;  // index into the context's partitions
  Offset fetch_offset;
  int32_t partition_max_bytes;
  int32_t current_leader_epoch;
};

class FetchOperation : public std::enable_shared_from_this<FetchOperation> {
 public:
  FetchOperation(Broker& b, RequestPtr r) : b_(b), r_(std::move(r)) {}

  // Builds the response skeleton; false when the request was answered or closed already.
  bool Prepare();
  void Read();

 private:
  void OnRead(uint64_t generation);
  void Wait(uint64_t generation);
  void Finish();
  void BuildResponse();
  uint64_t TrimToBudget();

  Broker& b_;
  RequestPtr r_;
  protocol::FetchRequest req_;
  protocol::FetchResponse resp_;
  FetchContext ctx_;
  uint64_t max_bytes_ = 0;
  // One per ctx_.partitions(); the response carries those the context includes.
  std::vector<protocol::FetchResponse::PartitionData> pds_;
  std::vector<FetchItem> items_;
  std::vector<storage::TopicPartition> tps_;
  std::vector<cluster::PartitionRead> reads_;
  std::vector<Offset> high_watermarks_;  // as read, to notice appends that raced the wait
  bool read_committed_ = false;
  std::chrono::steady_clock::time_point deadline_;
  uint64_t generation_ = 0;
  bool finished_ = false;
  std::shared_ptr<net::Timer> timer_;
};

// Whether `key` names the same topic as `prev` (consecutive partitions of one topic share
// a topic lookup and a response entry).
bool SameTopic(const SessionKey* prev, const SessionKey& key) {
  return prev != nullptr && key.topic_id == prev->topic_id && key.topic == prev->topic;
}

SessionKey KeyOf(int16_t version, const std::string& topic, const protocol::Uuid& topic_id,
                 PartitionId partition) {
  if (version >= 13) return SessionKey{topic_id, {}, partition.value};
  return SessionKey{{}, topic, partition.value};
}

bool FetchOperation::Prepare() {
  if (!DecodeBody(*r_, &req_)) return false;
  const int16_t v = r_->version;
  read_committed_ = req_.isolation_level == 1;
  deadline_ = std::chrono::steady_clock::now() + std::chrono::milliseconds(req_.max_wait_ms);
  const bool from_follower = req_.replica_id.value >= 0 || req_.replica_state.replica_id.value >= 0;
  // Consumers get at most the broker's fetch.max.bytes per response (KIP-541).
  max_bytes_ = static_cast<uint64_t>(std::max(req_.max_bytes, 0));
  if (!from_follower) {
    max_bytes_ = std::min<uint64_t>(max_bytes_,
                                    static_cast<uint64_t>(b_.s.config->GetInt("fetch.max.bytes")));
  }

  // A partition named twice is read once, as named last, in the place of its first
  // mention (Kafka's fetchData is a map): a 3 MB request cannot ask for the same records
  // 100,000 times.
  std::vector<std::pair<SessionKey, PartitionFetch>> wanted;
  absl::flat_hash_map<SessionKey, size_t> seen;
  for (const auto& ft : req_.topics) {
    for (const auto& fp : ft.partitions) {
      SessionKey key = KeyOf(v, ft.topic, ft.topic_id, fp.partition);
      PartitionFetch fetch{fp.fetch_offset, fp.partition_max_bytes, fp.current_leader_epoch.value,
                           fp.last_fetched_epoch.value, fp.log_start_offset};
      auto [it, fresh] = seen.try_emplace(key, wanted.size());
      if (fresh) {
        wanted.emplace_back(std::move(key), fetch);
      } else {
        wanted[it->second].second = fetch;
      }
    }
  }
  std::vector<SessionKey> forget;
  for (const auto& ft : req_.forgotten_topics_data) {
    for (PartitionId p : ft.partitions) forget.push_back(KeyOf(v, ft.topic, ft.topic_id, p));
  }
  ctx_ = b_.fetch_sessions->NewContext(FetchMetadata{req_.session_id, req_.session_epoch}, v >= 13,
                                       from_follower, std::move(wanted), forget);
  if (ctx_.kind() == FetchContext::Kind::kError) {
    resp_.error_code = Code(ctx_.error());
    Respond(*r_, resp_);
    return false;
  }

  auto image = b_.image();
  const auto& parts = ctx_.partitions();
  pds_.resize(parts.size());
  const metadata::TopicImage* topic = nullptr;
  const SessionKey* topic_key = nullptr;
  for (size_t i = 0; i < parts.size(); ++i) {
    const auto& [key, fetch] = parts[i];
    if (!SameTopic(topic_key, key)) {
      topic = v >= 13 ? image->TopicById(key.topic_id) : image->TopicByName(key.topic);
      topic_key = &key;
    }
    protocol::FetchResponse::PartitionData& pd = pds_[i];
    pd.partition_index = PartitionId(key.partition);
    // Kafka writes empty records, never null, on every path, errors included: clients
    // such as librdkafka 2.0 reject a null (-1) records size.
    pd.records = protocol::RecordsView::Of({});
    pd.high_watermark = Offset(-1);
    if (!read_committed_) pd.aborted_transactions = std::nullopt;
    if (topic == nullptr) {
      pd.error_code =
          Code(v >= 13 ? ErrorCode::kUnknownTopicId : ErrorCode::kUnknownTopicOrPartition);
    } else if (!topic->HasPartition(key.partition)) {
      pd.error_code = Code(ErrorCode::kUnknownTopicOrPartition);
    } else if (from_follower) {
      // Every partition has this node as its only replica: there are no followers.
      pd.error_code = Code(ErrorCode::kNotLeaderOrFollower);
    } else {
      items_.push_back(
          FetchItem{i, fetch.fetch_offset, fetch.max_bytes, fetch.current_leader_epoch});
      tps_.push_back(storage::TopicPartition{topic->name, PartitionId(key.partition)});
    }
  }
  reads_.resize(items_.size());
  high_watermarks_.resize(items_.size(), Offset(-1));
  return true;
}

void FetchOperation::Read() {
  const uint64_t generation = ++generation_;
  auto self = shared_from_this();
  b_.ForEachPartition(
      r_->conn.loop, tps_,
      [self](size_t i, cluster::Partition* p) {
        cluster::PartitionRead& out = self->reads_[i];
        const FetchItem& item = self->items_[i];
        out = cluster::PartitionRead{};
        if (p == nullptr || !p->IsLeader()) {
          out.error = self->b_.NotServedError(self->tps_[i]);
          return;
        }
        if (ErrorCode e = p->CheckLeaderEpoch(item.current_leader_epoch); e != ErrorCode::kNone) {
          out.error = e;
          return;
        }
        // No partition may give more than the whole response may carry; the first batch
        // comes whole whatever its size (KIP-74), and TrimToBudget keeps that only for the
        // first partition with data.
        const uint64_t max_bytes = std::min<uint64_t>(
            item.partition_max_bytes > 0 ? item.partition_max_bytes : 0, self->max_bytes_);
        out = p->Read(item.fetch_offset, max_bytes, self->read_committed_, true);
        self->high_watermarks_[i] = p->high_watermark();
      },
      [self, generation] { self->OnRead(generation); });
}

// Kafka's budget (KIP-74): partitions in request order share max_bytes. The first
// partition with data keeps what it read (at most max_bytes, or its first batch whole
// when that alone is larger); later ones keep the whole batches that still fit.
uint64_t FetchOperation::TrimToBudget() {
  uint64_t remaining = max_bytes_;
  uint64_t total = 0;
  bool any = false;
  for (cluster::PartitionRead& read : reads_) {
    if (read.data.regions.empty()) continue;
    if (any) {
      absl::Status s = storage::TrimToWholeBatches(&read.data, remaining);
      if (!s.ok()) read.error = ErrorCode::kKafkaStorageError;
    }
    any = true;
    remaining = read.data.bytes >= remaining ? 0 : remaining - read.data.bytes;
    total += read.data.bytes;
  }
  return total;
}

void FetchOperation::OnRead(uint64_t generation) {
  if (finished_ || generation != generation_) return;
  uint64_t total = TrimToBudget();
  bool any_error = false;
  for (const auto& read : reads_) any_error |= read.error != ErrorCode::kNone;
  const bool expired = std::chrono::steady_clock::now() >= deadline_;
  if (total >= static_cast<uint64_t>(std::max(req_.min_bytes, 0)) || req_.max_wait_ms <= 0 ||
      any_error || expired || items_.empty()) {
    Finish();
    return;
  }
  Wait(generation);
}

void FetchOperation::Wait(uint64_t generation) {
  auto self = shared_from_this();
  const size_t home = r_->conn.loop;
  net::EventLoops& loops = *b_.s.loops;
  // Waiters hold the operation weakly: a fetch that finished by its timeout leaves no
  // strong reference behind on an idle partition.
  std::weak_ptr<FetchOperation> weak = self;
  auto wake = [weak, generation, home, &loops] {
    loops.Post(home, [weak, generation] {
      auto op = weak.lock();
      if (op && !op->finished_ && generation == op->generation_) op->Read();
    });
  };
  // Park on every partition; an append that landed after our read wakes us at once.
  b_.ForEachPartition(
      home, tps_,
      [self, wake](size_t i, cluster::Partition* p) {
        if (p == nullptr) return;
        if (p->high_watermark() != self->high_watermarks_[i]) {
          wake();
          return;
        }
        p->AddAppendWaiter(self, wake);
      },
      [] {});
  auto remaining = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline_ - std::chrono::steady_clock::now());
  if (timer_) timer_->Cancel();
  timer_ =
      loops.RunAfter(home, std::max(remaining, std::chrono::milliseconds(0)), [self, generation] {
        if (!self->finished_ && generation == self->generation_) self->Read();
      });
}

void FetchOperation::Finish() {
  finished_ = true;
  if (timer_) timer_->Cancel();
  std::vector<std::vector<net::FileSlice>> splices;
  uint64_t spliced = 0;
  std::vector<std::shared_ptr<std::vector<uint8_t>>> copies;
  for (size_t i = 0; i < items_.size(); ++i) {
    cluster::PartitionRead& read = reads_[i];
    auto& pd = pds_[items_[i].slot];
    pd.error_code = Code(read.error);
    pd.high_watermark = read.high_watermark;
    pd.last_stable_offset = read.last_stable_offset;
    pd.log_start_offset = read.log_start_offset;
    if (read_committed_ && pd.aborted_transactions) {
      for (const storage::AbortedTxn& t : read.aborted) {
        protocol::FetchResponse::AbortedTransaction a;
        a.producer_id = t.producer_id;
        a.first_offset = t.first_offset;
        pd.aborted_transactions->push_back(a);
      }
    }
    if (read.error != ErrorCode::kNone || read.data.regions.empty()) {
      pd.records = protocol::RecordsView::Of({});
      continue;
    }
    std::vector<net::FileSlice> slices;
    bool all_native = true;
    for (const storage::FileRegion& region : read.data.regions) {
      int fd = region.file->NativeHandle();
      if (fd < 0) all_native = false;
      slices.push_back(net::FileSlice{fd, region.position, region.length, region.file});
    }
    if (!all_native) {
      // Not a plain file (tests' in-memory file systems): send a copy instead.
      absl::StatusOr<std::vector<uint8_t>> bytes = storage::ReadRegions(read.data.regions);
      if (!bytes.ok()) {
        pd.error_code = Code(ErrorCode::kKafkaStorageError);
        pd.records = protocol::RecordsView::Of({});
        continue;
      }
      copies.push_back(std::make_shared<std::vector<uint8_t>>(std::move(*bytes)));
      pd.records = protocol::RecordsView::Of(*copies.back());
      continue;
    }
    pd.records =
        protocol::RecordsView::Spliced(static_cast<int32_t>(splices.size()), read.data.bytes);
    spliced += read.data.bytes;
    splices.push_back(std::move(slices));
  }
  BuildResponse();
  Respond(*r_, resp_, spliced, &splices);
}

// The partitions the session context includes, grouped by topic as they come.
void FetchOperation::BuildResponse() {
  std::vector<PartitionOutcome> outcomes(pds_.size());
  for (size_t i = 0; i < pds_.size(); ++i) {
    const auto& pd = pds_[i];
    const auto& records = pd.records;
    outcomes[i] = PartitionOutcome{records.splice >= 0 || !records.bytes.empty(),
                                   pd.error_code != 0, pd.high_watermark, pd.log_start_offset};
  }
  std::vector<size_t> include;
  resp_.session_id = ctx_.Complete(outcomes, &include);
  const SessionKey* topic_key = nullptr;
  for (size_t i : include) {
    const SessionKey& key = ctx_.partitions()[i].first;
    if (!SameTopic(topic_key, key)) {
      protocol::FetchResponse::FetchableTopicResponse tr;
      tr.topic = key.topic;
      tr.topic_id = key.topic_id;
      resp_.responses.push_back(std::move(tr));
      topic_key = &key;
    }
    resp_.responses.back().partitions.push_back(std::move(pds_[i]));
  }
}

}  // namespace

void HandleFetch(Broker& b, RequestPtr r) {
  auto op = std::make_shared<FetchOperation>(b, std::move(r));
  if (!op->Prepare()) return;
  op->Read();
}

}  // namespace fjord::server
