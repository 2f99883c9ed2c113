// The requests of a transactional producer (KIP-98): the transactional InitProducerId,
// AddPartitionsToTxn, AddOffsetsToTxn and EndTxn go to the transaction coordinator
// (coordinator/txn_coordinator.h); TxnOffsetCommit goes to the group coordinator. Work
// runs on the loop of the coordinator's partition; answers are posted back to the
// connection's loop. The brokers' requests, AddPartitionsToTxn v4+ and WriteTxnMarkers
// (a coordinator asking a partition leader to write markers), are served here too, and the
// KIP-890 verification a leader asks of the coordinator (VerifyTxnPartitions).

#include "broker.h"
#include "fjord/base/logging.h"
#include "fjord/protocol/messages/add_offsets_to_txn_request.h"
#include "fjord/protocol/messages/add_offsets_to_txn_response.h"
#include "fjord/protocol/messages/add_partitions_to_txn_request.h"
#include "fjord/protocol/messages/add_partitions_to_txn_response.h"
#include "fjord/protocol/messages/end_txn_request.h"
#include "fjord/protocol/messages/end_txn_response.h"
#include "fjord/protocol/messages/init_producer_id_response.h"
#include "fjord/protocol/messages/txn_offset_commit_request.h"
#include "fjord/protocol/messages/txn_offset_commit_response.h"
#include "fjord/protocol/messages/write_txn_markers_request.h"
#include "fjord/protocol/messages/write_txn_markers_response.h"

namespace fjord::server {

using coordinator::GroupShard;
using coordinator::TxnShard;
using protocol::ErrorCode;

namespace {

// KIP-588: PRODUCER_FENCED is new; older request versions get INVALID_PRODUCER_EPOCH.
ErrorCode ForVersion(ErrorCode e, int16_t version, int16_t first_with_fenced) {
  if (e == ErrorCode::kProducerFenced && version < first_with_fenced) {
    return ErrorCode::kInvalidProducerEpoch;
  }
  return e;
}

// A coordinator's verification answer as TxnOffsetCommit carries it (Kafka's group
// coordinator): a fenced epoch is INVALID_PRODUCER_EPOCH; TRANSACTION_ABORTABLE only for
// v4+ (KIP-890), INVALID_TXN_STATE before; the rest as the coordinator said it.
ErrorCode TxnOffsetCommitVerificationError(ErrorCode e, int16_t version) {
  if (e == ErrorCode::kProducerFenced) return ErrorCode::kInvalidProducerEpoch;
  if (e == ErrorCode::kTransactionAbortable && version < 4) return ErrorCode::kInvalidTxnState;
  return e;
}

template <typename Response>
void RespondError(Broker& b, const RequestPtr& r, ErrorCode e) {
  Response resp;
  resp.error_code = Code(e);
  OnConnectionLoop(b, r, [r, resp] { Respond(*r, resp); });
}

}  // namespace

void InitTransactionalProducer(Broker& b, RequestPtr r, const std::string& transactional_id,
                               int32_t timeout_ms, ProducerId expected_id,
                               ProducerEpoch expected_epoch) {
  using Response = protocol::InitProducerIdResponse;
  if (transactional_id.empty()) return RespondError<Response>(b, r, ErrorCode::kInvalidRequest);
  b.txns->WithTxn(*b.image(), transactional_id,
                  [&b, r, transactional_id, timeout_ms, expected_id, expected_epoch](
                      TxnShard* shard, ErrorCode e) {
                    if (shard == nullptr) return RespondError<Response>(b, r, e);
                    shard->InitProducerId(
                        transactional_id, timeout_ms, expected_id, expected_epoch,
                        [&b, r](TxnShard::InitResult result) {
                          Response resp;
                          resp.error_code = Code(ForVersion(result.error, r->version, 4));
                          resp.producer_id = result.producer_id;
                          resp.producer_epoch = result.epoch;
                          OnConnectionLoop(b, r, [r, resp] { Respond(*r, resp); });
                        });
                  });
}

namespace {

using AddTopic = protocol::AddPartitionsToTxnRequest::AddPartitionsToTxnTopic;
using TopicResult = protocol::AddPartitionsToTxnResponse::AddPartitionsToTxnTopicResult;

// One transaction of an AddPartitionsToTxn: the client's (v0-3) or one of a broker's batch
// (v4+). `done` gets its per-topic results, on any thread.
void AddToTxn(Broker& b, std::shared_ptr<const metadata::MetadataImage> image, int16_t version,
              const std::string& transactional_id, ProducerId producer_id, ProducerEpoch epoch,
              bool verify_only, std::vector<AddTopic> topics,
              std::function<void(std::vector<TopicResult>)> done) {
  std::vector<std::pair<std::string, int32_t>> partitions;
  bool unknown = false;
  for (const AddTopic& t : topics) {
    const metadata::TopicImage* topic = image->TopicByName(t.name);
    for (PartitionId p : t.partitions) {
      unknown = unknown || topic == nullptr || !topic->HasPartition(p.value);
      partitions.emplace_back(t.name, p.value);
    }
  }
  // Per partition: `each[i]` when given, else `all`. With unknown partitions, those get
  // UNKNOWN_TOPIC_OR_PARTITION and the rest OPERATION_NOT_ATTEMPTED (Kafka's answer).
  auto results = [image, version, topics](ErrorCode all, const std::vector<ErrorCode>& each) {
    std::vector<TopicResult> out;
    size_t i = 0;
    for (const AddTopic& t : topics) {
      TopicResult tr;
      tr.name = t.name;
      const metadata::TopicImage* topic = image->TopicByName(t.name);
      for (PartitionId p : t.partitions) {
        protocol::AddPartitionsToTxnResponse::AddPartitionsToTxnPartitionResult pr;
        pr.partition_index = p;
        ErrorCode e = i < each.size() ? each[i] : all;
        ++i;
        if (e == ErrorCode::kOperationNotAttempted &&
            (topic == nullptr || !topic->HasPartition(p.value))) {
          e = ErrorCode::kUnknownTopicOrPartition;
        }
        // TRANSACTION_ABORTABLE is new in v5 (KIP-890); v4 callers know INVALID_TXN_STATE.
        if (e == ErrorCode::kTransactionAbortable && version < 5) e = ErrorCode::kInvalidTxnState;
        pr.partition_error_code = Code(ForVersion(e, version, 2));
        tr.results_by_partition.push_back(pr);
      }
      out.push_back(std::move(tr));
    }
    return out;
  };
  if (transactional_id.empty()) return done(results(ErrorCode::kInvalidRequest, {}));
  if (unknown) return done(results(ErrorCode::kOperationNotAttempted, {}));
  b.txns->WithTxn(
      *image, transactional_id,
      [=, partitions = std::move(partitions), done = std::move(done)](TxnShard* shard,
                                                                      ErrorCode e) {
        if (shard == nullptr) return done(results(e, {}));
        if (!verify_only) {
          return done(
              results(shard->AddPartitions(transactional_id, producer_id, epoch, partitions), {}));
        }
        TxnShard::Verdicts v =
            shard->VerifyPartitions(transactional_id, producer_id, epoch, partitions);
        done(results(v.error, v.partitions));
      });
}

}  // namespace

void VerifyTxnPartitions(Broker& b, std::shared_ptr<const metadata::MetadataImage> image,
                         const std::string& transactional_id, ProducerId producer_id,
                         ProducerEpoch epoch,
                         const std::vector<storage::TopicPartition>& partitions,
                         std::function<void(std::vector<ErrorCode>)> done) {
  // The question a leader asks with AddPartitionsToTxn v5 and VerifyOnly, asked in process:
  // one topic entry per partition, so the answers come back in the same order.
  std::vector<AddTopic> topics;
  topics.reserve(partitions.size());
  for (const storage::TopicPartition& tp : partitions) {
    AddTopic& t = topics.emplace_back();
    t.name = tp.topic;
    t.partitions.push_back(tp.partition);
  }
  AddToTxn(b, std::move(image), 5, transactional_id, producer_id, epoch, /*verify_only=*/true,
           std::move(topics), [done = std::move(done)](std::vector<TopicResult> results) {
             std::vector<ErrorCode> out;
             for (const TopicResult& t : results) {
               for (const auto& p : t.results_by_partition) {
                 out.push_back(static_cast<ErrorCode>(p.partition_error_code));
               }
             }
             done(std::move(out));
           });
}

void HandleAddPartitionsToTxn(Broker& b, RequestPtr r) {
  using Response = protocol::AddPartitionsToTxnResponse;
  auto req = std::make_shared<protocol::AddPartitionsToTxnRequest>();
  if (!DecodeBody(*r, req.get())) return;
  auto image = b.image();
  if (r->version <= 3) {
    // The client's form: one transaction, the producer's own.
    AddToTxn(b, image, r->version, req->v3_and_below_transactional_id,
             req->v3_and_below_producer_id, req->v3_and_below_producer_epoch, false,
             std::move(req->v3_and_below_topics), [&b, r](std::vector<TopicResult> topics) {
               Response resp;
               resp.results_by_topic_v3_and_below = std::move(topics);
               OnConnectionLoop(b, r, [r, resp = std::move(resp)] { Respond(*r, resp); });
             });
    return;
  }
  // v4+, the brokers' form (KIP-890): a batch of transactions, each added to or, with
  // VerifyOnly, checked. Results are gathered on the connection's loop.
  struct Gather {
    Response resp;
    size_t pending = 0;
  };
  auto gather = std::make_shared<Gather>();
  gather->pending = req->transactions.size();
  gather->resp.results_by_transaction.resize(req->transactions.size());
  if (req->transactions.empty()) {
    return OnConnectionLoop(b, r, [r, gather] { Respond(*r, gather->resp); });
  }
  for (size_t i = 0; i < req->transactions.size(); ++i) {
    auto& t = req->transactions[i];
    gather->resp.results_by_transaction[i].transactional_id = t.transactional_id;
    AddToTxn(b, image, r->version, t.transactional_id, t.producer_id, t.producer_epoch,
             t.verify_only, std::move(t.topics),
             [&b, r, gather, i](std::vector<TopicResult> topics) {
               OnConnectionLoop(b, r, [r, gather, i, topics = std::move(topics)]() mutable {
                 gather->resp.results_by_transaction[i].topic_results = std::move(topics);
                 if (--gather->pending == 0) Respond(*r, gather->resp);
               });
             });
  }
}

void HandleAddOffsetsToTxn(Broker& b, RequestPtr r) {
  using Response = protocol::AddOffsetsToTxnResponse;
  auto req = std::make_shared<protocol::AddOffsetsToTxnRequest>();
  if (!DecodeBody(*r, req.get())) return;
  auto image = b.image();
  // The group's __consumer_offsets partition joins the transaction: its marker makes the
  // transaction's offsets visible.
  auto add = [&b, r, req](ErrorCode created) {
    auto image = b.image();
    const int32_t offsets_partition =
        coordinator::GroupCoordinator::PartitionOf(*image, req->group_id);
    if (created != ErrorCode::kNone || offsets_partition < 0) {
      return RespondError<Response>(b, r, ErrorCode::kCoordinatorNotAvailable);
    }
    b.txns->WithTxn(*image, req->transactional_id,
                    [&b, r, req, offsets_partition](TxnShard* shard, ErrorCode e) {
                      if (shard != nullptr) {
                        e = shard->AddPartitions(req->transactional_id, req->producer_id,
                                                 req->producer_epoch,
                                                 {{coordinator::kOffsetsTopic, offsets_partition}});
                      }
                      RespondError<Response>(b, r, ForVersion(e, r->version, 2));
                    });
  };
  if (req->group_id.empty()) return RespondError<Response>(b, r, ErrorCode::kInvalidGroupId);
  b.groups->EnsureOffsetsTopic(*image, std::move(add));
}

void HandleEndTxn(Broker& b, RequestPtr r) {
  using Response = protocol::EndTxnResponse;
  auto req = std::make_shared<protocol::EndTxnRequest>();
  if (!DecodeBody(*r, req.get())) return;
  b.txns->WithTxn(*b.image(), req->transactional_id, [&b, r, req](TxnShard* shard, ErrorCode e) {
    if (shard != nullptr) {
      e = shard->EndTxn(req->transactional_id, req->producer_id, req->producer_epoch,
                        req->committed);
    }
    RespondError<Response>(b, r, ForVersion(e, r->version, 2));
  });
}

void HandleTxnOffsetCommit(Broker& b, RequestPtr r) {
  auto req = std::make_shared<protocol::TxnOffsetCommitRequest>();
  if (!DecodeBody(*r, req.get())) return;
  auto image = b.image();
  auto items =
      std::make_shared<std::vector<GroupShard::CommitItem>>(CommitItemsOf(*image, req->topics));
  auto respond = [&b, r, req, items](ErrorCode group_error) {
    protocol::TxnOffsetCommitResponse resp;
    size_t i = 0;
    for (const auto& t : req->topics) {
      protocol::TxnOffsetCommitResponse::TxnOffsetCommitResponseTopic rt;
      rt.name = t.name;
      for (const auto& p : t.partitions) {
        protocol::TxnOffsetCommitResponse::TxnOffsetCommitResponsePartition rp;
        rp.partition_index = p.partition_index;
        ErrorCode e = (*items)[i++].error;
        if (e == ErrorCode::kNone) e = group_error;
        rp.error_code = Code(ForVersion(e, r->version, 3));
        rt.partitions.push_back(rp);
      }
      resp.topics.push_back(std::move(rt));
    }
    OnConnectionLoop(b, r, [r, resp = std::move(resp)] { Respond(*r, resp); });
  };
  if (req->group_id.empty()) return respond(ErrorCode::kInvalidGroupId);
  // Runs on the group's loop, which owns its __consumer_offsets partition.
  auto commit = [req, items, respond](GroupShard* shard,
                                      std::optional<storage::VerificationGuard> verification) {
    coordinator::TxnProducer producer{req->producer_id, req->producer_epoch, verification};
    shard->TxnCommit(req->group_id, producer, req->generation_id, req->member_id,
                     req->group_instance_id, *items);
    respond(ErrorCode::kNone);
  };
  if (!b.s.config->GetBool("transaction.partition.verification.enable")) {
    b.groups->WithGroup(*image, req->group_id, [commit, respond](GroupShard* shard, ErrorCode e) {
      if (shard == nullptr) return respond(e);
      commit(shard, std::nullopt);
    });
    return;
  }
  // KIP-890: the offsets are a transactional batch in the group's __consumer_offsets
  // partition, so the first one of a transaction there is verified with the transaction
  // coordinator as a produce is (AddOffsetsToTxn must have added the partition).
  b.groups->WithGroup(
      *image, req->group_id, [&b, r, req, image, commit, respond](GroupShard* shard, ErrorCode e) {
        if (shard == nullptr) return respond(e);
        const storage::TopicPartition tp{
            coordinator::kOffsetsTopic,
            PartitionId(coordinator::GroupCoordinator::PartitionOf(*image, req->group_id))};
        cluster::Partition* partition = b.s.replicas->Get(tp);
        if (partition == nullptr || !partition->IsLeader())
          return respond(ErrorCode::kNotCoordinator);
        const storage::VerificationGuard guard =
            partition->StartTxnVerification(req->producer_id, -1, req->producer_epoch);
        if (guard.is_sentinel()) return commit(shard, guard);  // its transaction is open there
        VerifyTxnPartitions(
            b, image, req->transactional_id, req->producer_id, req->producer_epoch, {tp},
            [&b, r, req, commit, respond, guard](std::vector<ErrorCode> errors) {
              const ErrorCode v = errors.empty() ? ErrorCode::kUnknownServerError : errors[0];
              if (v != ErrorCode::kNone)
                return respond(TxnOffsetCommitVerificationError(v, r->version));
              b.groups->WithGroup(*b.image(), req->group_id,
                                  [commit, respond, guard](GroupShard* shard, ErrorCode e) {
                                    if (shard == nullptr) return respond(e);
                                    commit(shard, guard);
                                  });
            });
      });
}

void HandleWriteTxnMarkers(Broker& b, RequestPtr r) {
  using Response = protocol::WriteTxnMarkersResponse;
  auto req = std::make_shared<protocol::WriteTxnMarkersRequest>();
  if (!DecodeBody(*r, req.get())) return;
  // The response mirrors the request; each partition's error is filled in on the
  // connection's loop as its marker is written.
  struct Gather {
    Response resp;
    size_t pending = 0;
  };
  auto gather = std::make_shared<Gather>();
  struct Slot {
    size_t marker, topic, partition;
  };
  std::vector<Slot> slots;
  for (size_t m = 0; m < req->markers.size(); ++m) {
    const auto& marker = req->markers[m];
    Response::WritableTxnMarkerResult mr;
    mr.producer_id = marker.producer_id;
    for (size_t t = 0; t < marker.topics.size(); ++t) {
      Response::WritableTxnMarkerTopicResult tr;
      tr.name = marker.topics[t].name;
      for (size_t p = 0; p < marker.topics[t].partition_indexes.size(); ++p) {
        Response::WritableTxnMarkerPartitionResult pr;
        pr.partition_index = marker.topics[t].partition_indexes[p];
        tr.partitions.push_back(pr);
        slots.push_back({m, t, p});
      }
      mr.topics.push_back(std::move(tr));
    }
    gather->resp.markers.push_back(std::move(mr));
  }
  gather->pending = slots.size();
  if (slots.empty()) return OnConnectionLoop(b, r, [r, gather] { Respond(*r, gather->resp); });
  auto image = b.image();
  for (const Slot& slot : slots) {
    const auto& marker = req->markers[slot.marker];
    const std::string& topic = marker.topics[slot.topic].name;
    const int32_t partition = marker.topics[slot.topic].partition_indexes[slot.partition].value;
    auto settle = [&b, r, gather, slot](ErrorCode e) {
      OnConnectionLoop(b, r, [r, gather, slot, e] {
        gather->resp.markers[slot.marker].topics[slot.topic].partitions[slot.partition].error_code =
            Code(e);
        if (--gather->pending == 0) Respond(*r, gather->resp);
      });
    };
    const metadata::TopicImage* t = image->TopicByName(topic);
    if (t == nullptr || !t->HasPartition(partition)) {
      settle(ErrorCode::kUnknownTopicOrPartition);
      continue;
    }
    b.txns->AppendMarker(topic, partition, marker.producer_id, marker.producer_epoch,
                         marker.transaction_result, marker.coordinator_epoch, std::move(settle));
  }
}

}  // namespace fjord::server
