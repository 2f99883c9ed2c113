#pragma once
// The active controller of the metadata quorum: it validates admin commands against the
// current image, turns them into metadata records, commits them as one batch through the
// RaftClient and, once committed, replays them into the next image and publishes it.
//
// Today the quorum has one voter (this node); with a multi-voter quorum only the commit
// step (the RaftClient) changes. Commands run one at a time, in arrival order, on the
// controller's own thread, so callers on event loops never block.

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "fjord/base/types.h"
#include "fjord/metadata/metadata_image.h"
#include "fjord/protocol/error_codes.h"
#include "fjord/protocol/messages/alter_configs_request.h"
#include "fjord/protocol/messages/alter_configs_response.h"
#include "fjord/protocol/messages/create_partitions_request.h"
#include "fjord/protocol/messages/create_partitions_response.h"
#include "fjord/protocol/messages/create_topics_request.h"
#include "fjord/protocol/messages/create_topics_response.h"
#include "fjord/protocol/messages/delete_topics_request.h"
#include "fjord/protocol/messages/delete_topics_response.h"
#include "fjord/protocol/messages/incremental_alter_configs_request.h"
#include "fjord/protocol/messages/incremental_alter_configs_response.h"

namespace fjord::config {
class BrokerConfig;
}
namespace fjord::raft {
class RaftClient;
}

namespace fjord::controller {

struct ControllerState;

// The metadata.version this controller writes on an empty log: Kafka 3.9-IV0 (level 21),
// the first level whose record versions cover every field Fjord writes.
inline constexpr int16_t kMetadataVersionLevel = 21;

class QuorumController {
 public:
  struct Options {
    NodeId node_id;
    // num.partitions, default.replication.factor, delete.topic.enable, broker defaults
    // of topic configs. Outlives the controller.
    const config::BrokerConfig* config = nullptr;
  };
  // Runs on the controller thread after each commit with the new image, before the
  // `done` callback of the command that produced it.
  using Publisher = std::function<void(std::shared_ptr<const metadata::MetadataImage>)>;

  QuorumController(raft::RaftClient* raft, Publisher publisher, Options options);
  ~QuorumController();  // Stop()s
  QuorumController(const QuorumController&) = delete;
  QuorumController& operator=(const QuorumController&) = delete;

  // Replays the committed log into the image and publishes it; then commits, as one batch,
  // the feature levels (on an empty log) and this node's registration with a new broker
  // epoch; then starts the controller thread. A record that fails to decode or replay is
  // an error naming its offset.
  absl::Status Start(const std::vector<metadata::BrokerEndpoint>& endpoints);
  // Finishes the command in progress, answers every queued one with NOT_CONTROLLER and
  // joins the thread. Commands submitted afterwards are answered NOT_CONTROLLER at once.
  // Idempotent.
  void Stop();
  // The newest committed image. Thread-safe.
  std::shared_ptr<const metadata::MetadataImage> image() const;

  // Admin commands; `done` runs on the controller thread once the result is known.
  void CreateTopics(protocol::CreateTopicsRequest request, int16_t version,
                    std::function<void(protocol::CreateTopicsResponse)> done);
  void DeleteTopics(protocol::DeleteTopicsRequest request, int16_t version,
                    std::function<void(protocol::DeleteTopicsResponse)> done);
  void CreatePartitions(protocol::CreatePartitionsRequest request, int16_t version,
                        std::function<void(protocol::CreatePartitionsResponse)> done);
  void AlterConfigs(protocol::AlterConfigsRequest request, int16_t version,
                    std::function<void(protocol::AlterConfigsResponse)> done);
  void IncrementalAlterConfigs(protocol::IncrementalAlterConfigsRequest request, int16_t version,
                               std::function<void(protocol::IncrementalAlterConfigsResponse)> done);
  // Metadata's auto-creation: creates each missing, valid name with num.partitions and
  // default.replication.factor. Per name: kNone when created or already there, else the
  // reason (INVALID_TOPIC_EXCEPTION, INVALID_REPLICATION_FACTOR, ...).
  void AutoCreateTopics(
      std::vector<std::string> names,
      std::function<void(std::vector<std::pair<std::string, protocol::ErrorCode>>)> done);
  // Creates an internal topic (__consumer_offsets, __transaction_state) unless it exists.
  // Its replication factor is capped at the registered brokers, with a warning.
  void CreateInternalTopic(std::string name, int32_t partitions, int16_t replication_factor,
                           std::map<std::string, std::string> configs,
                           std::function<void(protocol::ErrorCode)> done);
  // Reserves `count` producer ids in the metadata log; returns [first, first + count).
  void AllocateProducerIds(int32_t count,
                           std::function<void(absl::StatusOr<std::pair<int64_t, int64_t>>)> done);

 private:
  std::unique_ptr<ControllerState> state_;
};

}  // namespace fjord::controller
