// The operators' view of producers and transactions (KIP-664): DescribeProducers (from
// each partition's producer state, on its loop), DescribeTransactions and
// ListTransactions (from the transaction coordinator's shards).

#include <algorithm>
#include <atomic>
#include <mutex>

#include "absl/strings/str_cat.h"
#include "broker.h"
#include "fjord/protocol/messages/describe_producers_request.h"
#include "fjord/protocol/messages/describe_producers_response.h"
#include "fjord/protocol/messages/describe_transactions_request.h"
#include "fjord/protocol/messages/describe_transactions_response.h"
#include "fjord/protocol/messages/list_transactions_request.h"
#include "fjord/protocol/messages/list_transactions_response.h"

namespace fjord::server {

using coordinator::TxnMetadata;
using coordinator::TxnShard;
using coordinator::TxnState;
using protocol::ErrorCode;

void HandleDescribeProducers(Broker& b, RequestPtr r) {
  auto req = std::make_shared<protocol::DescribeProducersRequest>();
  if (!DecodeBody(*r, req.get())) return;
  using Resp = protocol::DescribeProducersResponse;
  auto resp = std::make_shared<Resp>();
  auto image = b.image();
  std::vector<storage::TopicPartition> tps;
  std::vector<Resp::PartitionResponse*> slots;
  for (const auto& t : req->topics) {
    Resp::TopicResponse& tr = resp->topics.emplace_back();
    tr.name = t.name;
    tr.partitions.resize(t.partition_indexes.size());
  }
  for (size_t ti = 0; ti < req->topics.size(); ++ti) {
    const auto& t = req->topics[ti];
    const metadata::TopicImage* topic = image->TopicByName(t.name);
    for (size_t pi = 0; pi < t.partition_indexes.size(); ++pi) {
      Resp::PartitionResponse& pr = resp->topics[ti].partitions[pi];
      pr.partition_index = t.partition_indexes[pi];
      if (topic == nullptr || !topic->HasPartition(pr.partition_index.value)) {
        pr.error_code = Code(ErrorCode::kUnknownTopicOrPartition);
        continue;
      }
      tps.push_back(storage::TopicPartition{t.name, pr.partition_index});
      slots.push_back(&pr);
    }
  }
  b.ForEachPartition(
      r->conn.loop, tps,
      [&b, resp, slots, tps](size_t i, cluster::Partition* p) {
        Resp::PartitionResponse& pr = *slots[i];
        if (p == nullptr || !p->IsLeader()) {
          pr.error_code = Code(b.NotServedError(tps[i]));
          return;
        }
        for (const auto& [id, e] : p->log().Producers()) {
          Resp::ProducerState s;
          s.producer_id = id;
          s.producer_epoch = e.epoch.value;
          s.last_sequence = e.batches.empty() ? -1 : e.batches.back().last_seq;
          s.last_timestamp = e.last_timestamp;
          s.coordinator_epoch = e.coordinator_epoch;
          s.current_txn_start_offset = e.txn_first_offset ? e.txn_first_offset->value : -1;
          pr.active_producers.push_back(s);
        }
      },
      [r, resp] { Respond(*r, *resp); });
}

void HandleDescribeTransactions(Broker& b, RequestPtr r) {
  auto req = std::make_shared<protocol::DescribeTransactionsRequest>();
  if (!DecodeBody(*r, req.get())) return;
  using Resp = protocol::DescribeTransactionsResponse;
  auto resp = std::make_shared<Resp>();
  resp->transaction_states.resize(req->transactional_ids.size());
  if (req->transactional_ids.empty()) return Respond(*r, *resp);
  auto pending = std::make_shared<std::atomic<size_t>>(req->transactional_ids.size());
  auto image = b.image();
  for (size_t i = 0; i < req->transactional_ids.size(); ++i) {
    const std::string& id = req->transactional_ids[i];
    b.txns->WithTxn(*image, id, [&b, r, resp, pending, i, id](TxnShard* shard, ErrorCode e) {
      Resp::TransactionState& out = resp->transaction_states[i];
      out.transactional_id = id;
      out.producer_id = ProducerId(-1);
      out.producer_epoch = ProducerEpoch(-1);
      const TxnMetadata* t = shard == nullptr ? nullptr : shard->Find(id);
      if (shard == nullptr) {
        out.error_code =
            Code(e == ErrorCode::kCoordinatorNotAvailable ? ErrorCode::kNotCoordinator : e);
      } else if (t == nullptr) {
        out.error_code = Code(ErrorCode::kTransactionalIdNotFound);
      } else {
        out.transaction_state = coordinator::TxnStateName(t->state);
        out.transaction_timeout_ms = t->timeout_ms;
        out.transaction_start_time_ms = t->start_ms;
        out.producer_id = t->producer_id;
        out.producer_epoch = t->epoch;
        for (const auto& [topic, partition] : t->partitions) {
          if (out.topics.empty() || out.topics.back().topic != topic) {
            out.topics.emplace_back().topic = topic;
          }
          out.topics.back().partitions.push_back(PartitionId(partition));
        }
      }
      if (pending->fetch_sub(1) == 1) OnConnectionLoop(b, r, [r, resp] { Respond(*r, *resp); });
    });
  }
}

void HandleListTransactions(Broker& b, RequestPtr r) {
  auto req = std::make_shared<protocol::ListTransactionsRequest>();
  if (!DecodeBody(*r, req.get())) return;
  using Resp = protocol::ListTransactionsResponse;
  auto resp = std::make_shared<Resp>();
  auto states = std::make_shared<std::vector<TxnState>>();
  for (const std::string& name : req->state_filters) {
    if (auto s = coordinator::TxnStateByName(name)) {
      states->push_back(*s);
    } else {
      resp->unknown_state_filters.push_back(name);
    }
  }
  // Every filter named an unknown state: nothing can match.
  const bool none = !req->state_filters.empty() && states->empty();
  const int64_t now = b.s.clock->NowMs();
  auto mu = std::make_shared<std::mutex>();
  b.txns->ForEachShard(
      *b.image(),
      [req, resp, states, none, now, mu](TxnShard* shard, ErrorCode e) {
        std::lock_guard lock(*mu);
        if (shard == nullptr) {
          if (resp->error_code == 0) resp->error_code = Code(e);
          return;
        }
        if (none) return;
        for (const auto& [id, t] : shard->txns()) {
          if (!states->empty() &&
              std::find(states->begin(), states->end(), t.state) == states->end()) {
            continue;
          }
          const auto& pids = req->producer_id_filters;
          if (!pids.empty() && std::find(pids.begin(), pids.end(), t.producer_id) == pids.end()) {
            continue;
          }
          // v1 (KIP-994): only transactions running longer than the duration.
          if (req->duration_filter >= 0 &&
              (t.start_ms < 0 || now - t.start_ms < req->duration_filter)) {
            continue;
          }
          Resp::TransactionState& s = resp->transaction_states.emplace_back();
          s.transactional_id = id;
          s.producer_id = t.producer_id;
          s.transaction_state = coordinator::TxnStateName(t.state);
        }
      },
      [&b, r, resp] { OnConnectionLoop(b, r, [r, resp] { Respond(*r, *resp); }); });
}

}  // namespace fjord::server
