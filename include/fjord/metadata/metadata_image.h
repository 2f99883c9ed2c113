#pragma once
// The cluster metadata as of one offset of the metadata log: topics and their partitions,
// brokers, configs, feature levels and the producer-id high mark. An image never changes
// once built and is shared by pointer between threads; a MetadataDelta replays records on
// top of one image to build the next, sharing every unchanged topic with it.

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "fjord/base/types.h"
#include "fjord/metadata/metadata_record.h"
#include "fjord/protocol/wire.h"

namespace fjord::metadata {

// ConfigRecord resource types (Kafka's ConfigResource.Type).
inline constexpr int8_t kTopicResource = 2;
inline constexpr int8_t kBrokerResource = 4;

struct PartitionImage {
  PartitionId partition{0};
  std::vector<NodeId> replicas;
  std::vector<NodeId> isr;
  NodeId leader{-1};
  LeaderEpoch leader_epoch{0};
  int32_t partition_epoch = 0;
  bool operator==(const PartitionImage&) const = default;
};

struct TopicImage {
  std::string name;
  protocol::Uuid id;
  std::vector<PartitionImage> partitions;  // index == partition id

  bool HasPartition(int32_t partition) const {
    return partition >= 0 && static_cast<size_t>(partition) < partitions.size();
  }
};

struct BrokerEndpoint {
  std::string listener;
  std::string host;
  uint16_t port = 0;
  int16_t security_protocol = 0;
};

struct BrokerImage {
  NodeId id{-1};
  int64_t epoch = -1;
  protocol::Uuid incarnation_id;
  std::vector<BrokerEndpoint> endpoints;
  std::optional<std::string> rack;
  bool fenced = true;
};

class MetadataImage {
 public:
  using TopicMap = std::map<std::string, std::shared_ptr<const TopicImage>, std::less<>>;
  using ConfigMap = std::map<std::string, std::string>;

  static std::shared_ptr<const MetadataImage> Empty();

  Offset offset() const { return offset_; }  // last record applied; -1 when empty
  const TopicImage* TopicByName(std::string_view name) const;
  const TopicImage* TopicById(const protocol::Uuid& id) const;
  const TopicMap& topics() const { return topics_; }  // by name
  const BrokerImage* Broker(NodeId id) const;
  const std::map<int32_t, BrokerImage>& brokers() const { return brokers_; }
  // Overrides of a resource; empty if none. Broker resource "" is the cluster default.
  const ConfigMap& TopicConfigs(std::string_view topic) const;
  const ConfigMap& BrokerConfigs(std::string_view broker) const;
  std::optional<int16_t> FeatureLevel(std::string_view feature) const;
  const std::map<std::string, int16_t>& features() const { return features_; }
  // The first producer id not yet handed out (0 if none was).
  int64_t next_producer_id() const { return next_producer_id_; }

 private:
  friend class MetadataDelta;
  Offset offset_{-1};
  TopicMap topics_;
  std::map<std::string, std::string> topic_by_id_;  // Uuid text -> name
  std::map<int32_t, BrokerImage> brokers_;
  std::map<std::string, ConfigMap, std::less<>> topic_configs_;
  std::map<std::string, ConfigMap, std::less<>> broker_configs_;
  std::map<std::string, int16_t> features_;
  int64_t next_producer_id_ = 0;
};

// Accumulates records on top of a base image. Not thread-safe.
class MetadataDelta {
 public:
  explicit MetadataDelta(std::shared_ptr<const MetadataImage> base);
  // Applies one record. An inconsistent record (a partition of an unknown topic, a
  // duplicate topic name, a change to an unknown partition, ...) fails with
  // FailedPrecondition naming it, and leaves the delta as it was.
  absl::Status Replay(const MetadataRecord& record);
  // The next image, as of `last_offset`. The delta may be replayed further afterwards.
  std::shared_ptr<const MetadataImage> Apply(Offset last_offset) const;
  bool empty() const { return empty_; }

 private:
  TopicImage& MutableTopic(const std::string& name);

  MetadataImage next_;  // the base's maps; topics shared until changed
  std::map<std::string, std::shared_ptr<TopicImage>> owned_;  // topics changed so far
  bool empty_ = true;
};

}  // namespace fjord::metadata
