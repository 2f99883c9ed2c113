// Produce: route each partition's batch to the partition's loop, append it there, and
// answer in the request's shape (no answer at all for acks=0).

#include <atomic>
#include <optional>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "broker.h"
#include "fjord/base/strings.h"
#include "fjord/controller/topic_names.h"
#include "fjord/protocol/messages/produce_request.h"
#include "fjord/protocol/messages/produce_response.h"
#include "fjord/protocol/record_batch.h"
#include "fjord/storage/log_validator.h"

namespace fjord::server {

using protocol::ErrorCode;

namespace {

struct Item {
  size_t topic;
  size_t partition;
  std::span<uint8_t> records;
};

// A partition named twice is produced once, with the data named last, in the place of
// its first mention (Kafka keeps a map of partition to records): one 8 MB request cannot
// append the same partition 100,000 times. A topic named twice is merged likewise.
void CollapseDuplicates(protocol::ProduceRequest& req) {
  if (req.topic_data.size() == 1 && req.topic_data[0].partition_data.size() <= 1) return;
  absl::flat_hash_map<std::string, size_t> topic_at;
  absl::flat_hash_map<std::pair<size_t, int32_t>, size_t> partition_at;
  std::vector<protocol::ProduceRequest::TopicProduceData> out;
  bool duplicates = false;
  for (auto& td : req.topic_data) {
    auto [t, new_topic] = topic_at.try_emplace(td.name, out.size());
    if (new_topic) {
      out.emplace_back();
      out.back().name = td.name;
      out.back().unknown_tagged_fields = std::move(td.unknown_tagged_fields);
    } else {
      duplicates = true;
    }
    auto& topic = out[t->second];
    for (auto& pd : td.partition_data) {
      auto [at, fresh] =
          partition_at.try_emplace({t->second, pd.index.value}, topic.partition_data.size());
      if (fresh) {
        topic.partition_data.push_back(std::move(pd));
      } else {
        duplicates = true;
        topic.partition_data[at->second] = std::move(pd);
      }
    }
  }
  if (duplicates) req.topic_data = std::move(out);
}

// Whether the first batch of any partition is a whole v2 batch with the transactional bit
// (Kafka's RequestUtils.hasTransactionalRecords looks at first batches only).
bool HasTransactionalBatch(const protocol::ProduceRequest& req) {
  for (const auto& td : req.topic_data) {
    for (const auto& pd : td.partition_data) {
      const auto& bytes = pd.records.bytes;
      if (pd.records.is_null || bytes.size() < protocol::kRecordBatchHeaderSize) continue;
      const protocol::RecordBatchHeader h = protocol::RecordBatchHeader::Decode(bytes.data());
      if (h.magic != protocol::kMagicV2 || h.batch_length < protocol::kMinBatchLength ||
          protocol::kLogOverhead + static_cast<size_t>(h.batch_length) > bytes.size()) {
        continue;
      }
      if (h.is_transactional()) return true;
    }
  }
  return false;
}

// One Produce in flight: checked, record checks of heavy batches on a worker, appends on
// the partitions' loops, owed fsyncs on a worker, then the answer on the connection's loop.
class ProduceOp : public std::enable_shared_from_this<ProduceOp> {
 public:
  ProduceOp(Broker& broker, RequestPtr request,
            std::shared_ptr<protocol::ProduceRequest> request_body,
            std::shared_ptr<protocol::ProduceResponse> response, std::vector<Item> items,
            std::vector<storage::TopicPartition> tps);
  void Start();

 private:
  void Prevalidate(size_t i);
  void Append();
  void AppendOne(size_t i, cluster::Partition* partition);
  void AfterAppends();
  void Finish();

  Broker& b;
  RequestPtr r;
  std::shared_ptr<protocol::ProduceRequest> req;
  std::shared_ptr<protocol::ProduceResponse> resp;
  std::vector<Item> items;
  std::vector<storage::TopicPartition> tps;
  std::atomic<size_t> remaining{0};  // prevalidations still running
  std::shared_ptr<ProduceOrder::Ticket> ticket;
  // Per item, each written by one thread at a time (a worker, then the partition's loop).
  std::vector<std::optional<absl::StatusOr<std::vector<int64_t>>>> prevalidated;
  std::vector<std::optional<Offset>> flush_due;
  std::vector<std::shared_ptr<storage::Log>> flush_logs;
};

}  // namespace

void HandleProduce(Broker& b, RequestPtr r) {
  auto req = std::make_shared<protocol::ProduceRequest>();
  if (!DecodeBody(*r, req.get())) return;
  CollapseDuplicates(*req);
  auto resp = std::make_shared<protocol::ProduceResponse>();
  auto image = b.image();
  std::vector<Item> items;
  std::vector<storage::TopicPartition> tps;
  ErrorCode request_error = ErrorCode::kNone;
  std::string request_message;
  if (!req->transactional_id.has_value() && HasTransactionalBatch(*req)) {
    // Kafka checks this before anything else and refuses the whole request: transactional
    // records are written under a transactional id the client must name (and be allowed).
    request_error = ErrorCode::kTransactionalIdAuthorizationFailed;
  } else if (req->acks != -1 && req->acks != 0 && req->acks != 1) {
    request_error = ErrorCode::kInvalidRequiredAcks;
  }
  for (size_t t = 0; t < req->topic_data.size(); ++t) {
    const auto& td = req->topic_data[t];
    protocol::ProduceResponse::TopicProduceResponse tr;
    tr.name = td.name;
    const metadata::TopicImage* topic = image->TopicByName(td.name);
    for (size_t p = 0; p < td.partition_data.size(); ++p) {
      const auto& pd = td.partition_data[p];
      protocol::ProduceResponse::PartitionProduceResponse pr;
      pr.index = pd.index;
      pr.base_offset = Offset(-1);
      if (request_error != ErrorCode::kNone) {
        pr.error_code = Code(request_error);
        if (!request_message.empty()) pr.error_message = request_message;
      } else if (topic == nullptr || !topic->HasPartition(pd.index.value)) {
        pr.error_code = Code(ErrorCode::kUnknownTopicOrPartition);
      } else if (controller::IsInternalTopic(td.name)) {
        // Kafka: "Cannot append to internal topic": only the coordinators write there.
        pr.error_code = Code(ErrorCode::kInvalidTopicException);
      } else if (pd.records.is_null) {
        pr.error_code = Code(ErrorCode::kCorruptMessage);
        pr.error_message = "the produce request carries no record batch for this partition";
      } else if (pd.records.bytes.empty()) {
        // Kafka (ProduceRequest.validateRecords): at least one batch per partition.
        pr.error_code = Code(ErrorCode::kInvalidRecord);
      } else {
        // The frame is ours: appends patch base offsets and epochs in place.
        auto bytes = std::span<uint8_t>(const_cast<uint8_t*>(pd.records.bytes.data()),
                                        pd.records.bytes.size());
        items.push_back(Item{t, p, bytes});
        tps.push_back(storage::TopicPartition{td.name, pd.index});
      }
      tr.partition_responses.push_back(std::move(pr));
    }
    resp->responses.push_back(std::move(tr));
  }
  auto op = std::make_shared<ProduceOp>(b, r, req, resp, std::move(items), std::move(tps));
  op->Start();
}

ProduceOp::ProduceOp(Broker& broker, RequestPtr request,
                     std::shared_ptr<protocol::ProduceRequest> request_body,
                     std::shared_ptr<protocol::ProduceResponse> response, std::vector<Item> items,
                     std::vector<storage::TopicPartition> tps)
    : b(broker),
      r(std::move(request)),
      req(std::move(request_body)),
      resp(std::move(response)),
      items(std::move(items)),
      tps(std::move(tps)),
      prevalidated(this->items.size()),
      flush_due(this->items.size()),
      flush_logs(this->items.size()) {}

void ProduceOp::Start() {
  std::vector<size_t> heavy;
  for (size_t i = 0; i < items.size(); ++i) {
    if (storage::ValidationIsHeavy(items[i].records)) heavy.push_back(i);
  }
  auto self = shared_from_this();
  const size_t loop = r->conn.loop;
  const uint64_t connection = r->conn.connection_id;
  ticket = b.produce_order->Enqueue(loop, connection);
  if (heavy.empty()) {
    b.produce_order->Ready(loop, connection, ticket, [self] { self->Append(); });
    return;
  }
  // Decompressing and checking every record of a large batch runs on a worker, so the
  // partitions of the event loops keep their latency; the append itself (offsets,
  // producer state, the write) stays on the partition's loop.
  remaining.store(heavy.size());
  for (size_t i : heavy) {
    auto task = [self, i] {
      self->Prevalidate(i);
      if (self->remaining.fetch_sub(1) != 1) return;
      // Back on the connection's loop, in line behind the connection's earlier produces.
      self->b.s.loops->Post(self->r->conn.loop, [self] {
        self->b.produce_order->Ready(self->r->conn.loop, self->r->conn.connection_id, self->ticket,
                                     [self] { self->Append(); });
      });
    };
    if (!b.workers->Submit(task)) task();  // shutting down: validate here
  }
}

void ProduceOp::Prevalidate(size_t i) {
  // The partition's config as its log has it; without a log here the append path answers.
  std::shared_ptr<storage::Log> log = b.s.replicas->log_manager().GetLog(tps[i]);
  if (log == nullptr) return;
  prevalidated[i] =
      storage::PrevalidateRecords(items[i].records, log->config(), b.s.clock->NowMs());
}

void ProduceOp::Append() {
  auto self = shared_from_this();
  b.ForEachPartition(
      r->conn.loop, tps,
      [self](size_t i, cluster::Partition* partition) { self->AppendOne(i, partition); },
      [self] { self->AfterAppends(); });
}

void ProduceOp::AppendOne(size_t i, cluster::Partition* partition) {
  // The frame (and so the records) stays alive through `req`'s owner, the request.
  const Item& item = items[i];
  auto& pr = resp->responses[item.topic].partition_responses[item.partition];
  if (partition == nullptr || !partition->IsLeader()) {
    pr.error_code = Code(b.NotServedError(tps[i]));
    return;
  }
  if (ErrorCode e = partition->CheckAcks(req->acks); e != ErrorCode::kNone) {
    pr.error_code = Code(e);
    return;
  }
  storage::Log::LeaderAppendOptions options;
  if (prevalidated[i].has_value()) {
    if (!prevalidated[i]->ok()) {
      const absl::Status& s = prevalidated[i]->status();
      pr.error_code = Code(storage::AppendErrorCode(storage::AppendErrorOf(s)));
      pr.error_message = std::string(s.message());
      pr.log_start_offset = partition->log().log_start_offset();
      return;
    }
    options.prevalidated_max_timestamps = &**prevalidated[i];
  }
  options.deferred_flush = &flush_due[i];
  absl::StatusOr<storage::LogAppendInfo> info = partition->AppendAsLeader(item.records, options);
  if (!info.ok()) {
    pr.error_code = Code(storage::AppendErrorCode(storage::AppendErrorOf(info.status())));
    pr.error_message = std::string(info.status().message());
    pr.log_start_offset = partition->log().log_start_offset();
    return;
  }
  pr.base_offset = info->first_offset;
  pr.log_append_time_ms = info->log_append_time;
  pr.log_start_offset = info->log_start_offset;
  if (flush_due[i]) flush_logs[i] = partition->shared_log();
}

void ProduceOp::AfterAppends() {
  bool flushes = false;
  for (const auto& due : flush_due) flushes = flushes || due.has_value();
  if (!flushes) {
    Finish();
    return;
  }
  // flush.messages: the append is acknowledged once durable; the fsync runs on a worker.
  auto self = shared_from_this();
  auto task = [self] {
    for (size_t i = 0; i < self->items.size(); ++i) {
      if (!self->flush_due[i]) continue;
      absl::Status s = self->flush_logs[i]->Flush(*self->flush_due[i]);
      if (s.ok()) continue;
      const Item& item = self->items[i];
      auto& pr = self->resp->responses[item.topic].partition_responses[item.partition];
      pr.error_code = Code(ErrorCode::kKafkaStorageError);
      pr.error_message = absl::StrCat("flush failed: ", s.message());
      pr.base_offset = Offset(-1);
    }
    self->b.s.loops->Post(self->r->conn.loop, [self] { self->Finish(); });
  };
  if (!b.workers->Submit(task)) task();
}

void ProduceOp::Finish() {
  if (req->acks == 0) {
    // Kafka: an acks=0 producer learns of a failure only by the connection closing.
    for (const auto& tr : resp->responses) {
      for (const auto& pr : tr.partition_responses) {
        if (pr.error_code != 0) {
          r->done(net::Reply::Close(absl::StrCat(
              "acks=0 produce to ", tr.name, "-", pr.index.value,
              " failed: ", Absl(protocol::ErrorName(static_cast<ErrorCode>(pr.error_code))))));
          return;
        }
      }
    }
    r->done(net::Reply::None());
    return;
  }
  Respond(*r, *resp);
}

}  // namespace fjord::server
