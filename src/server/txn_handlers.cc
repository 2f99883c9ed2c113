// The requests of a transactional producer (KIP-98): the transactional InitProducerId,
// AddPartitionsToTxn, AddOffsetsToTxn and EndTxn go to the transaction coordinator
// (coordinator/txn_coordinator.h); TxnOffsetCommit goes to the group coordinator. Work
// runs on the loop of the coordinator's partition; answers are posted back to the
// connection's loop.

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

void HandleAddPartitionsToTxn(Broker& b, RequestPtr r) {
  auto req = std::make_shared<protocol::AddPartitionsToTxnRequest>();
  if (!DecodeBody(*r, req.get())) return;
  // v0-3: one transaction, the client's form. (v4+, the brokers' batched form, is not
  // served: ApiVersions advertises up to v3.)
  auto image = b.image();
  std::vector<std::pair<std::string, int32_t>> partitions;
  bool unknown = false;
  for (const auto& t : req->v3_and_below_topics) {
    const metadata::TopicImage* topic = image->TopicByName(t.name);
    for (PartitionId p : t.partitions) {
      unknown = unknown || topic == nullptr || !topic->HasPartition(p.value);
      partitions.emplace_back(t.name, p.value);
    }
  }
  // Kafka answers per partition with one error for all; with unknown partitions, those get
  // UNKNOWN_TOPIC_OR_PARTITION and the rest OPERATION_NOT_ATTEMPTED.
  auto respond = [&b, r, req, image](ErrorCode e) {
    protocol::AddPartitionsToTxnResponse resp;
    for (const auto& t : req->v3_and_below_topics) {
      protocol::AddPartitionsToTxnResponse::AddPartitionsToTxnTopicResult tr;
      tr.name = t.name;
      const metadata::TopicImage* topic = image->TopicByName(t.name);
      for (PartitionId p : t.partitions) {
        protocol::AddPartitionsToTxnResponse::AddPartitionsToTxnPartitionResult pr;
        pr.partition_index = p;
        ErrorCode pe = e;
        if (e == ErrorCode::kOperationNotAttempted &&
            (topic == nullptr || !topic->HasPartition(p.value))) {
          pe = ErrorCode::kUnknownTopicOrPartition;
        }
        pr.partition_error_code = Code(ForVersion(pe, r->version, 2));
        tr.results_by_partition.push_back(pr);
      }
      resp.results_by_topic_v3_and_below.push_back(std::move(tr));
    }
    OnConnectionLoop(b, r, [r, resp = std::move(resp)] { Respond(*r, resp); });
  };
  if (unknown) return respond(ErrorCode::kOperationNotAttempted);
  b.txns->WithTxn(*image, req->v3_and_below_transactional_id,
                  [req, partitions = std::move(partitions), respond](TxnShard* shard, ErrorCode e) {
                    if (shard != nullptr) {
                      e = shard->AddPartitions(req->v3_and_below_transactional_id,
                                               req->v3_and_below_producer_id,
                                               req->v3_and_below_producer_epoch, partitions);
                    }
                    respond(e);
                  });
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
  b.groups->WithGroup(*image, req->group_id, [req, items, respond](GroupShard* shard, ErrorCode e) {
    if (shard == nullptr) return respond(e);
    shard->TxnCommit(req->group_id, {req->producer_id, req->producer_epoch}, req->generation_id,
                     req->member_id, req->group_instance_id, *items);
    respond(ErrorCode::kNone);
  });
}

}  // namespace fjord::server
