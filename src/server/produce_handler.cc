// Produce: route each partition's batch to the partition's loop, append it there, and
// answer in the request's shape (no answer at all for acks=0).
//
// A transactional batch that would open its producer's transaction in a partition is
// verified first (KIP-890, transaction.partition.verification.enable): the partition hands
// out a verification guard, the transaction coordinator is asked (in process) whether the
// partition is in the producer's open transaction, and only then is the batch appended,
// with the guard. Errors are those Kafka's leader answers (see VerificationError).

#include <algorithm>
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
  size_t topic = 0;
  size_t partition = 0;
  std::span<uint8_t> records;
  bool transactional = false;  // the records hold a transactional batch
  int32_t first_seq = -1;      // the first batch's base sequence
  // Set when verification is on: what the append presents (the sentinel unless a guard
  // was taken for this partition).
  std::optional<storage::VerificationGuard> guard;
  ErrorCode error = ErrorCode::kNone;  // a failed verification: not appended
  std::string message;
};

// The transactional producers of one partition's records (walks the v2 batch headers;
// what does not parse is left to the append's validation).
struct TxnScan {
  bool first_transactional = false;  // Kafka's test: the first batch only
  bool any_transactional = false;
  int32_t first_seq = -1;
  std::vector<std::pair<ProducerId, ProducerEpoch>> producers;
};

TxnScan ScanTransactional(std::span<const uint8_t> records) {
  TxnScan scan;
  constexpr size_t kMagicAt = 16;
  bool first = true;
  while (records.size() >= protocol::kRecordBatchHeaderSize &&
         records[kMagicAt] == protocol::kMagicV2) {
    const protocol::RecordBatchHeader h = protocol::RecordBatchHeader::Decode(records.data());
    if (first) scan.first_seq = h.base_sequence;
    if (h.is_transactional()) {
      if (first) scan.first_transactional = true;
      if (h.producer_id.value >= 0) {
        scan.any_transactional = true;
        scan.producers.emplace_back(h.producer_id, h.producer_epoch);
      }
    }
    first = false;
    if (h.batch_length < protocol::kMinBatchLength || h.size_in_bytes() > records.size()) break;
    records = records.subspan(h.size_in_bytes());
  }
  return scan;
}

// A coordinator's verification answer as the produce response carries it (Kafka's
// AddPartitionsToTxnManager and ReplicaManager): a fenced epoch is INVALID_PRODUCER_EPOCH,
// which producers handle here; TRANSACTION_ABORTABLE only for Produce v11+ (KIP-890),
// INVALID_TXN_STATE before; retriable coordinator errors become NOT_ENOUGH_REPLICAS, which
// every producer retries without a metadata refresh.
ErrorCode VerificationError(ErrorCode e, int16_t version, std::string* message) {
  switch (e) {
    case ErrorCode::kProducerFenced:
      return ErrorCode::kInvalidProducerEpoch;
    case ErrorCode::kTransactionAbortable:
      if (version >= 11) return e;
      [[fallthrough]];
    case ErrorCode::kInvalidTxnState:
      *message = "Partition was not added to the transaction";
      return ErrorCode::kInvalidTxnState;
    case ErrorCode::kConcurrentTransactions:
    case ErrorCode::kNetworkException:
    case ErrorCode::kCoordinatorLoadInProgress:
    case ErrorCode::kCoordinatorNotAvailable:
    case ErrorCode::kNotCoordinator:
      *message = absl::StrCat(
          "Unable to verify the partition has been added to the transaction. Underlying error: ",
          Absl(protocol::ErrorName(e)));
      return ErrorCode::kNotEnoughReplicas;
    default:
      return e;
  }
}

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
  // After the connection's earlier produces have started: verification (KIP-890) when a
  // transactional batch needs it, then Append.
  void Proceed();
  void VerifyThenAppend(const std::string& transactional_id, ProducerId producer_id,
                        ProducerEpoch epoch);
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

 public:
  // The request's one transactional producer, when it is to be verified.
  std::optional<std::pair<ProducerId, ProducerEpoch>> verify_producer;

 private:
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
  // The transactional producers of the request: Kafka takes one transactional id per
  // request, so one producer id and epoch.
  std::vector<std::pair<ProducerId, ProducerEpoch>> producers;
  std::vector<TxnScan> scans;
  for (const auto& td : req->topic_data) {
    for (const auto& pd : td.partition_data) {
      TxnScan scan = pd.records.is_null ? TxnScan{} : ScanTransactional(pd.records.bytes);
      for (const auto& p : scan.producers) {
        if (std::find(producers.begin(), producers.end(), p) == producers.end()) {
          producers.push_back(p);
        }
      }
      scans.push_back(std::move(scan));
    }
  }
  if (!req->transactional_id.has_value() && HasTransactionalBatch(*req)) {
    // Kafka checks this before anything else and refuses the whole request: transactional
    // records are written under a transactional id the client must name (and be allowed).
    request_error = ErrorCode::kTransactionalIdAuthorizationFailed;
  } else if (producers.size() > 1) {
    request_error = ErrorCode::kInvalidProducerIdMapping;
    request_message = "Transactional records contained more than one producer ID";
  } else if (req->acks != -1 && req->acks != 0 && req->acks != 1) {
    request_error = ErrorCode::kInvalidRequiredAcks;
  }
  size_t scanned = 0;
  for (size_t t = 0; t < req->topic_data.size(); ++t) {
    const auto& td = req->topic_data[t];
    protocol::ProduceResponse::TopicProduceResponse tr;
    tr.name = td.name;
    const metadata::TopicImage* topic = image->TopicByName(td.name);
    for (size_t p = 0; p < td.partition_data.size(); ++p) {
      const auto& pd = td.partition_data[p];
      const TxnScan& scan = scans[scanned++];
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
        Item item;
        item.topic = t;
        item.partition = p;
        item.records = bytes;
        item.transactional = scan.any_transactional;
        item.first_seq = scan.first_seq;
        items.push_back(std::move(item));
        tps.push_back(storage::TopicPartition{td.name, pd.index});
      }
      tr.partition_responses.push_back(std::move(pr));
    }
    resp->responses.push_back(std::move(tr));
  }
  auto op = std::make_shared<ProduceOp>(b, r, req, resp, std::move(items), std::move(tps));
  // KIP-890: with verification off (or nothing transactional) the batches go straight to
  // the log, unchecked against the coordinator.
  if (request_error == ErrorCode::kNone && producers.size() == 1 && req->transactional_id &&
      b.s.config->GetBool("transaction.partition.verification.enable")) {
    op->verify_producer = producers[0];
  }
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
    b.produce_order->Ready(loop, connection, ticket, [self] { self->Proceed(); });
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

void ProduceOp::Proceed() {
  if (verify_producer && req->transactional_id) {
    VerifyThenAppend(*req->transactional_id, verify_producer->first, verify_producer->second);
  } else {
    Append();
  }
}

// KIP-890: takes a guard in each partition whose transactional batch would open its
// producer's transaction there, asks the coordinator about those partitions, and appends
// once it has answered. The connection's later produces wait (ProduceOrder) until then.
void ProduceOp::VerifyThenAppend(const std::string& transactional_id, ProducerId producer_id,
                                 ProducerEpoch epoch) {
  std::vector<storage::TopicPartition> asking;
  std::vector<size_t> at;
  for (size_t i = 0; i < items.size(); ++i) {
    items[i].guard = storage::VerificationGuard{};
    if (!items[i].transactional) continue;
    asking.push_back(tps[i]);
    at.push_back(i);
  }
  // Which items need the coordinator's word; written on the partitions' loops, each
  // index by one loop, read on the connection's loop after ForEachPartition's done.
  auto verify = std::make_shared<std::vector<char>>(items.size(), 0);
  auto self = shared_from_this();
  b.ForEachPartition(
      r->conn.loop, asking,
      [self, at, verify, producer_id, epoch](size_t i, cluster::Partition* partition) {
        Item& item = self->items[at[i]];
        if (partition == nullptr || !partition->IsLeader()) {
          item.error = self->b.NotServedError(self->tps[at[i]]);
          return;
        }
        item.guard = partition->StartTxnVerification(producer_id, item.first_seq, epoch);
        (*verify)[at[i]] = item.guard->is_sentinel() ? 0 : 1;
      },
      [self, verify, transactional_id, producer_id, epoch] {
        std::vector<storage::TopicPartition> asked;
        std::vector<size_t> asked_at;
        for (size_t i = 0; i < verify->size(); ++i) {
          if (!(*verify)[i]) continue;
          asked.push_back(self->tps[i]);
          asked_at.push_back(i);
        }
        if (asked.empty()) return self->Append();
        Broker& b = self->b;
        VerifyTxnPartitions(
            b, b.image(), transactional_id, producer_id, epoch, asked,
            [self, asked_at = std::move(asked_at)](std::vector<ErrorCode> errors) {
              OnConnectionLoop(self->b, self->r, [self, asked_at, errors = std::move(errors)] {
                for (size_t k = 0; k < asked_at.size(); ++k) {
                  Item& item = self->items[asked_at[k]];
                  const ErrorCode e =
                      k < errors.size() ? errors[k] : ErrorCode::kUnknownServerError;
                  if (e == ErrorCode::kNone) continue;
                  item.error = VerificationError(e, self->r->version, &item.message);
                }
                self->Append();
              });
            });
      });
}

void ProduceOp::Append() {
  auto self = shared_from_this();
  b.ForEachPartition(
      r->conn.loop, tps,
      [self](size_t i, cluster::Partition* partition) { self->AppendOne(i, partition); },
      [self] { self->AfterAppends(); });
  // Posted: the connection's next produce may go.
  b.produce_order->Started(r->conn.loop, r->conn.connection_id, ticket);
}

void ProduceOp::AppendOne(size_t i, cluster::Partition* partition) {
  // The frame (and so the records) stays alive through `req`'s owner, the request.
  const Item& item = items[i];
  auto& pr = resp->responses[item.topic].partition_responses[item.partition];
  if (item.error != ErrorCode::kNone) {  // a failed verification: not appended
    pr.error_code = Code(item.error);
    if (!item.message.empty()) pr.error_message = item.message;
    return;
  }
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
  options.verification = item.guard;
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
