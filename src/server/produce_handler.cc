// Produce: route each partition's batch to the partition's loop, append it there, and
// answer in the request's shape (no answer at all for acks=0).
//
// A transactional batch that would open its producer's transaction in a partition is
// verified first (KIP-890, transaction.partition.verification.enable): the partition hands
// out a verification guard, the transaction coordinator is asked (in process) whether the
// partition is in the producer's open transaction, and only then is the batch appended,
// with the guard. Errors are those Kafka's leader answers (see VerificationError).

#include <algorithm>
#include <optional>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "broker.h"
#include "fjord/base/strings.h"
#include "fjord/controller/topic_names.h"
#include "fjord/protocol/messages/produce_request.h"
#include "fjord/protocol/messages/produce_response.h"
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

// One produce request in flight: the request (which owns the records), its answer and the
// partitions to append.
struct ProduceOp {
  RequestPtr r;
  std::shared_ptr<protocol::ProduceRequest> req;
  protocol::ProduceResponse resp;
  std::vector<Item> items;
  std::vector<storage::TopicPartition> tps;
};

// Answers the request (acks=0: nothing, or a closed connection when a partition failed).
void Finish(const std::shared_ptr<ProduceOp>& op) {
  const RequestPtr& r = op->r;
  if (op->req->acks == 0) {
    // Kafka: an acks=0 producer learns of a failure only by the connection closing.
    for (const auto& tr : op->resp.responses) {
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
  Respond(*r, op->resp);
}

// Appends every partition that has not failed, on the partitions' loops, then answers.
void Append(Broker& b, std::shared_ptr<ProduceOp> op) {
  std::vector<storage::TopicPartition> tps;
  std::vector<size_t> at;
  for (size_t i = 0; i < op->items.size(); ++i) {
    const Item& item = op->items[i];
    if (item.error != ErrorCode::kNone) {
      auto& pr = op->resp.responses[item.topic].partition_responses[item.partition];
      pr.error_code = Code(item.error);
      if (!item.message.empty()) pr.error_message = item.message;
      continue;
    }
    tps.push_back(op->tps[i]);
    at.push_back(i);
  }
  b.ForEachPartition(
      op->r->conn.loop, tps,
      [op, at = std::move(at)](size_t i, cluster::Partition* partition) {
        // The frame (and so the records) stays alive through `op->r`, the request.
        const Item& item = op->items[at[i]];
        auto& pr = op->resp.responses[item.topic].partition_responses[item.partition];
        if (partition == nullptr || !partition->IsLeader()) {
          pr.error_code = Code(ErrorCode::kNotLeaderOrFollower);
          return;
        }
        if (ErrorCode e = partition->CheckAcks(op->req->acks); e != ErrorCode::kNone) {
          pr.error_code = Code(e);
          return;
        }
        absl::StatusOr<storage::LogAppendInfo> info =
            partition->AppendAsLeader(item.records, storage::AppendOrigin::kClient, item.guard);
        if (!info.ok()) {
          pr.error_code = Code(storage::AppendErrorCode(storage::AppendErrorOf(info.status())));
          pr.error_message = std::string(info.status().message());
          pr.log_start_offset = partition->log().log_start_offset();
          return;
        }
        pr.base_offset = info->first_offset;
        pr.log_append_time_ms = info->log_append_time;
        pr.log_start_offset = info->log_start_offset;
      },
      [op] { Finish(op); });
}

// KIP-890: takes a guard in each partition whose transactional batch would open its
// producer's transaction there, asks the coordinator about those partitions, and appends
// once it has answered.
void VerifyThenAppend(Broker& b, std::shared_ptr<ProduceOp> op, const std::string& transactional_id,
                      ProducerId producer_id, ProducerEpoch epoch) {
  std::vector<storage::TopicPartition> tps;
  std::vector<size_t> at;
  for (size_t i = 0; i < op->items.size(); ++i) {
    op->items[i].guard = storage::VerificationGuard{};
    if (!op->items[i].transactional) continue;
    tps.push_back(op->tps[i]);
    at.push_back(i);
  }
  // Which items need the coordinator's word; written on the partitions' loops, each
  // index by one loop, read on the connection's loop after ForEachPartition's done.
  auto verify = std::make_shared<std::vector<char>>(op->items.size(), 0);
  b.ForEachPartition(
      op->r->conn.loop, tps,
      [op, at, verify, producer_id, epoch](size_t i, cluster::Partition* partition) {
        Item& item = op->items[at[i]];
        if (partition == nullptr || !partition->IsLeader()) {
          item.error = ErrorCode::kNotLeaderOrFollower;
          return;
        }
        item.guard = partition->StartTxnVerification(producer_id, item.first_seq, epoch);
        (*verify)[at[i]] = item.guard->is_sentinel() ? 0 : 1;
      },
      [&b, op, verify, transactional_id, producer_id, epoch] {
        std::vector<storage::TopicPartition> asked;
        std::vector<size_t> asked_at;
        for (size_t i = 0; i < verify->size(); ++i) {
          if (!(*verify)[i]) continue;
          asked.push_back(op->tps[i]);
          asked_at.push_back(i);
        }
        if (asked.empty()) return Append(b, op);
        VerifyTxnPartitions(
            b, b.image(), transactional_id, producer_id, epoch, asked,
            [&b, op, asked_at = std::move(asked_at)](std::vector<ErrorCode> errors) {
              OnConnectionLoop(b, op->r, [&b, op, asked_at, errors = std::move(errors)] {
                for (size_t k = 0; k < asked_at.size(); ++k) {
                  Item& item = op->items[asked_at[k]];
                  const ErrorCode e =
                      k < errors.size() ? errors[k] : ErrorCode::kUnknownServerError;
                  if (e == ErrorCode::kNone) continue;
                  item.error = VerificationError(e, op->r->version, &item.message);
                }
                Append(b, op);
              });
            });
      });
}

}  // namespace

void HandleProduce(Broker& b, RequestPtr r) {
  auto req = std::make_shared<protocol::ProduceRequest>();
  if (!DecodeBody(*r, req.get())) return;
  CollapseDuplicates(*req);
  auto op = std::make_shared<ProduceOp>();
  op->r = r;
  op->req = req;
  auto& resp = op->resp;
  auto image = b.image();
  ErrorCode request_error = ErrorCode::kNone;
  std::string request_message;
  if (req->acks != -1 && req->acks != 0 && req->acks != 1) {
    request_error = ErrorCode::kInvalidRequiredAcks;
  }
  // The transactional producers of the request: Kafka takes one transactional id per
  // request, so one producer id and epoch.
  bool transactional = false;
  std::vector<std::pair<ProducerId, ProducerEpoch>> producers;
  std::vector<TxnScan> scans;
  for (const auto& td : req->topic_data) {
    for (const auto& pd : td.partition_data) {
      TxnScan scan = pd.records.is_null ? TxnScan{} : ScanTransactional(pd.records.bytes);
      transactional = transactional || scan.first_transactional;
      for (const auto& p : scan.producers) {
        if (std::find(producers.begin(), producers.end(), p) == producers.end()) {
          producers.push_back(p);
        }
      }
      scans.push_back(std::move(scan));
    }
  }
  if (request_error == ErrorCode::kNone && transactional && !req->transactional_id) {
    // Kafka refuses the whole request: transactional records need a transactional id.
    request_error = ErrorCode::kTransactionalIdAuthorizationFailed;
  } else if (request_error == ErrorCode::kNone && producers.size() > 1) {
    request_error = ErrorCode::kInvalidProducerIdMapping;
    request_message = "Transactional records contained more than one producer ID";
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
      } else if (pd.records.is_null || pd.records.bytes.empty()) {
        pr.error_code = Code(ErrorCode::kCorruptMessage);
        pr.error_message = "the produce request carries no record batch for this partition";
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
        op->items.push_back(std::move(item));
        op->tps.push_back(storage::TopicPartition{td.name, pd.index});
      }
      tr.partition_responses.push_back(std::move(pr));
    }
    resp.responses.push_back(std::move(tr));
  }
  // KIP-890: with verification off (or nothing transactional) the batches go straight to
  // the log, unchecked against the coordinator.
  if (producers.size() == 1 && req->transactional_id &&
      b.s.config->GetBool("transaction.partition.verification.enable")) {
    return VerifyThenAppend(b, op, *req->transactional_id, producers[0].first, producers[0].second);
  }
  Append(b, op);
}

}  // namespace fjord::server
