#pragma once
// The state every handler shares, and the handler entry points. Internal to server/.

#include <functional>
#include <memory>
#include <span>
#include <vector>

#include "fjord/base/worker_pool.h"
#include "fjord/cluster/replica_manager.h"
#include "fjord/controller/quorum_controller.h"
#include "fjord/coordinator/group_coordinator.h"
#include "fjord/coordinator/txn_coordinator.h"
#include "fjord/metadata/metadata_image.h"
#include "fjord/server/fetch_session.h"
#include "produce_order.h"
#include "request.h"

namespace fjord::server {

// Producer ids for InitProducerId, served from blocks reserved through the controller.
// Thread-safe; `done` runs on the caller's thread or the controller's.
class ProducerIdSource {
 public:
  explicit ProducerIdSource(controller::QuorumController& controller);
  void Next(std::function<void(absl::StatusOr<int64_t>)> done);

 private:
  struct State;
  controller::QuorumController& controller_;
  std::shared_ptr<State> state_;
};

class Broker {
 public:
  explicit Broker(BrokerServices services);

  std::shared_ptr<const metadata::MetadataImage> image() const { return s.controller->image(); }

  // The error for a partition not served on this node (`p` null or a follower):
  // KAFKA_STORAGE_ERROR when this node should host it but could not open its log (it is
  // offline), else NOT_LEADER_OR_FOLLOWER.
  protocol::ErrorCode NotServedError(const storage::TopicPartition& tp) const;

  // Runs fn(i, partition) for each tps[i] on the partition's loop (partition is nullptr
  // when this node does not host it), then done() on the `home` loop. fn calls for
  // different i may run concurrently on different loops; each i is visited once.
  void ForEachPartition(size_t home, const std::vector<storage::TopicPartition>& tps,
                        std::function<void(size_t, cluster::Partition*)> fn,
                        std::function<void()> done);

  BrokerServices s;
  std::unique_ptr<FetchSessionCache> fetch_sessions;
  std::unique_ptr<coordinator::GroupCoordinator> groups;
  std::unique_ptr<ProducerIdSource> producer_ids;
  std::unique_ptr<coordinator::TxnCoordinator> txns;
  std::unique_ptr<ProduceOrder> produce_order;
  // num.io.threads: produce work that must not hold an event loop. Last, so destroyed
  // (its tasks run and joined) before what they use.
  std::unique_ptr<WorkerPool> workers;
};

// The per-partition items of an OffsetCommit or TxnOffsetCommit, in request order; a
// partition the image does not have is refused with UNKNOWN_TOPIC_OR_PARTITION.
template <typename Topics>
std::vector<coordinator::GroupShard::CommitItem> CommitItemsOf(const metadata::MetadataImage& image,
                                                               const Topics& topics) {
  std::vector<coordinator::GroupShard::CommitItem> items;
  for (const auto& t : topics) {
    const metadata::TopicImage* topic = image.TopicByName(t.name);
    for (const auto& p : t.partitions) {
      coordinator::GroupShard::CommitItem& item = items.emplace_back();
      item.topic = t.name;
      item.partition = p.partition_index.value;
      item.offset.offset = p.committed_offset;
      item.offset.leader_epoch = p.committed_leader_epoch.value;
      item.offset.metadata = p.committed_metadata.value_or("");
      if (topic == nullptr || !topic->HasPartition(p.partition_index.value)) {
        item.error = protocol::ErrorCode::kUnknownTopicOrPartition;
      }
    }
  }
  return items;
}

// Posts fn to the loop of the request's connection (answers leave from there).
void OnConnectionLoop(Broker& b, const RequestPtr& r, std::function<void()> fn);

struct ServedBroker {
  const metadata::BrokerImage* broker;
  const metadata::BrokerEndpoint* endpoint;
};
std::vector<ServedBroker> BrokersOn(const metadata::MetadataImage& image,
                                    const std::string& listener);

// What this broker serves (api_table.cc): the advertised and served version ranges.
struct ServedApi {
  protocol::ApiKey key;
  int16_t advertised_min;  // may be below served_min: see api_table.cc
  int16_t served_min;
  int16_t max;
  void (*handle)(Broker&, RequestPtr);
};
std::span<const ServedApi> ServedApis();
const ServedApi* FindServedApi(int16_t key);

void HandleApiVersions(Broker& b, RequestPtr r);
void RespondUnsupportedApiVersions(Broker& b, RequestPtr r);
void HandleMetadata(Broker& b, RequestPtr r);
void HandleDescribeCluster(Broker& b, RequestPtr r);
void HandleFindCoordinator(Broker& b, RequestPtr r);
void HandleOffsetCommit(Broker& b, RequestPtr r);
void HandleOffsetFetch(Broker& b, RequestPtr r);
void HandleOffsetDelete(Broker& b, RequestPtr r);
void HandleJoinGroup(Broker& b, RequestPtr r);
void HandleInitProducerId(Broker& b, RequestPtr r);
void HandleAddPartitionsToTxn(Broker& b, RequestPtr r);
void HandleAddOffsetsToTxn(Broker& b, RequestPtr r);
void HandleEndTxn(Broker& b, RequestPtr r);
void HandleTxnOffsetCommit(Broker& b, RequestPtr r);
void HandleWriteTxnMarkers(Broker& b, RequestPtr r);
void HandleDescribeProducers(Broker& b, RequestPtr r);
void HandleDescribeTransactions(Broker& b, RequestPtr r);
void HandleListTransactions(Broker& b, RequestPtr r);
// The transactional InitProducerId (txn_handlers.cc).
void InitTransactionalProducer(Broker& b, RequestPtr r, const std::string& transactional_id,
                               int32_t timeout_ms, ProducerId expected_id,
                               ProducerEpoch expected_epoch);
// KIP-890: asks the transaction coordinator of `transactional_id` (in process, on its
// shard's loop) whether each partition is in the producer's open transaction, as a
// leader's AddPartitionsToTxn v5 with VerifyOnly would. `done` gets one coordinator error
// per partition, in order (NONE: in the transaction; TRANSACTION_ABORTABLE: not in it;
// INVALID_PRODUCER_ID_MAPPING, PRODUCER_FENCED, CONCURRENT_TRANSACTIONS, NOT_COORDINATOR,
// COORDINATOR_LOAD_IN_PROGRESS, COORDINATOR_NOT_AVAILABLE, INVALID_REQUEST for all), on
// any thread.
void VerifyTxnPartitions(Broker& b, std::shared_ptr<const metadata::MetadataImage> image,
                         const std::string& transactional_id, ProducerId producer_id,
                         ProducerEpoch epoch,
                         const std::vector<storage::TopicPartition>& partitions,
                         std::function<void(std::vector<protocol::ErrorCode>)> done);
void HandleSyncGroup(Broker& b, RequestPtr r);
void HandleHeartbeat(Broker& b, RequestPtr r);
void HandleLeaveGroup(Broker& b, RequestPtr r);
void HandleDescribeGroups(Broker& b, RequestPtr r);
void HandleListGroups(Broker& b, RequestPtr r);
void HandleDeleteGroups(Broker& b, RequestPtr r);
void HandleProduce(Broker& b, RequestPtr r);
void HandleFetch(Broker& b, RequestPtr r);
void HandleListOffsets(Broker& b, RequestPtr r);
void HandleOffsetForLeaderEpoch(Broker& b, RequestPtr r);
void HandleDeleteRecords(Broker& b, RequestPtr r);
void HandleCreateTopics(Broker& b, RequestPtr r);
void HandleDeleteTopics(Broker& b, RequestPtr r);
void HandleCreatePartitions(Broker& b, RequestPtr r);
void HandleDescribeConfigs(Broker& b, RequestPtr r);
void HandleAlterConfigs(Broker& b, RequestPtr r);
void HandleIncrementalAlterConfigs(Broker& b, RequestPtr r);
void HandleDescribeLogDirs(Broker& b, RequestPtr r);

}  // namespace fjord::server
