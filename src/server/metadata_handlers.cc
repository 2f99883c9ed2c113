// Metadata, DescribeCluster and FindCoordinator: answers from the MetadataImage.

#include "absl/strings/str_cat.h"
#include "broker.h"
#include "fjord/config/broker_config.h"
#include "fjord/controller/topic_names.h"
#include "fjord/protocol/messages/describe_cluster_request.h"
#include "fjord/protocol/messages/describe_cluster_response.h"
#include "fjord/protocol/messages/find_coordinator_request.h"
#include "fjord/protocol/messages/find_coordinator_response.h"
#include "fjord/protocol/messages/metadata_request.h"
#include "fjord/protocol/messages/metadata_response.h"

namespace fjord::server {

using protocol::ErrorCode;

namespace {

using controller::IsInternalTopic;
using controller::ValidateTopicName;

// A partition this node hosts but could not open is reported as Kafka reports a replica
// on a failed log directory: no leader (LEADER_NOT_AVAILABLE) and this node offline.
protocol::MetadataResponse::MetadataResponseTopic DescribeTopic(
    const metadata::TopicImage& t, const cluster::ReplicaManager::OfflineMap& offline,
    NodeId self) {
  protocol::MetadataResponse::MetadataResponseTopic out;
  out.name = t.name;
  out.topic_id = t.id;
  out.is_internal = IsInternalTopic(t.name);
  for (const metadata::PartitionImage& p : t.partitions) {
    protocol::MetadataResponse::MetadataResponsePartition mp;
    mp.partition_index = p.partition;
    mp.leader_id = p.leader;
    mp.leader_epoch = p.leader_epoch;
    mp.replica_nodes = p.replicas;
    mp.isr_nodes = p.isr;
    if (!offline.empty() && offline.contains(storage::TopicPartition{t.name, p.partition})) {
      mp.offline_replicas.push_back(self);
      if (p.leader == self) mp.leader_id = NodeId(-1);
    }
    if (mp.leader_id.value < 0) mp.error_code = Code(ErrorCode::kLeaderNotAvailable);
    out.partitions.push_back(std::move(mp));
  }
  return out;
}

void RespondMetadata(Broker& b, const RequestPtr& r, const protocol::MetadataRequest& req) {
  auto image = b.image();
  std::shared_ptr<const cluster::ReplicaManager::OfflineMap> offline =
      b.s.replicas->OfflinePartitions();
  protocol::MetadataResponse resp;
  for (const ServedBroker& sb : BrokersOn(*image, r->conn.listener)) {
    protocol::MetadataResponse::MetadataResponseBroker mb;
    mb.node_id = sb.broker->id;
    mb.host = sb.endpoint->host;
    mb.port = sb.endpoint->port;
    mb.rack = sb.broker->rack;
    resp.brokers.push_back(std::move(mb));
  }
  resp.cluster_id = b.s.cluster_id;
  resp.controller_id = b.s.node_id;
  // v0: an empty list means every topic; v1+: null means every topic.
  const bool all = !req.topics.has_value() || (r->version == 0 && req.topics->empty());
  if (all) {
    for (const auto& [name, topic] : image->topics())
      resp.topics.push_back(DescribeTopic(*topic, *offline, b.s.node_id));
  } else {
    for (const auto& t : *req.topics) {
      const metadata::TopicImage* topic = nullptr;
      if (t.name.has_value()) {
        topic = image->TopicByName(*t.name);
      } else {
        topic = image->TopicById(t.topic_id);
      }
      if (topic != nullptr) {
        resp.topics.push_back(DescribeTopic(*topic, *offline, b.s.node_id));
        continue;
      }
      protocol::MetadataResponse::MetadataResponseTopic missing;
      missing.name = t.name;
      missing.topic_id = t.topic_id;
      if (!t.name.has_value()) {
        missing.error_code = Code(ErrorCode::kUnknownTopicId);
      } else if (!ValidateTopicName(*t.name).ok()) {
        missing.error_code = Code(ErrorCode::kInvalidTopicException);
      } else {
        missing.error_code = Code(ErrorCode::kUnknownTopicOrPartition);
      }
      resp.topics.push_back(std::move(missing));
    }
  }
  Respond(*r, resp);
}

}  // namespace

void HandleMetadata(Broker& b, RequestPtr r) {
  protocol::MetadataRequest req;
  if (!DecodeBody(*r, &req)) return;
  // Auto-creation (auto.create.topics.enable, and the request's own flag from v4).
  std::vector<std::string> to_create;
  if (req.topics.has_value() && req.allow_auto_topic_creation &&
      b.s.config->GetBool("auto.create.topics.enable")) {
    auto image = b.image();
    for (const auto& t : *req.topics) {
      if (t.name.has_value() && image->TopicByName(*t.name) == nullptr &&
          ValidateTopicName(*t.name).ok() && !IsInternalTopic(*t.name)) {
        to_create.push_back(*t.name);
      }
    }
  }
  if (to_create.empty()) {
    RespondMetadata(b, r, req);
    return;
  }
  b.s.controller->AutoCreateTopics(
      std::move(to_create),
      [&b, r, req = std::move(req)](std::vector<std::pair<std::string, ErrorCode>> results) {
        for (const auto& [name, error] : results) {
          if (error != ErrorCode::kNone) {
            Logger().warn("auto-creating topic {} failed: {}", name, protocol::ErrorName(error));
          }
        }
        RespondMetadata(b, r, req);
      });
}

void HandleDescribeCluster(Broker& b, RequestPtr r) {
  protocol::DescribeClusterRequest req;
  if (!DecodeBody(*r, &req)) return;
  protocol::DescribeClusterResponse resp;
  if (req.endpoint_type != 1) {
    // KIP-919: controller endpoints are served by controllers' listeners only.
    resp.error_code = Code(ErrorCode::kUnsupportedEndpointType);
    resp.error_message = "this listener serves broker endpoints only";
    Respond(*r, resp);
    return;
  }
  auto image = b.image();
  resp.cluster_id = b.s.cluster_id;
  resp.controller_id = b.s.node_id;
  for (const ServedBroker& sb : BrokersOn(*image, r->conn.listener)) {
    protocol::DescribeClusterResponse::DescribeClusterBroker db;
    db.broker_id = sb.broker->id;
    db.host = sb.endpoint->host;
    db.port = sb.endpoint->port;
    db.rack = sb.broker->rack;
    resp.brokers.push_back(std::move(db));
  }
  Respond(*r, resp);
}

// The brokers a client on `listener` is told about: unfenced ones with an endpoint on
// that listener (Metadata, DescribeCluster and FindCoordinator use the same set).
std::vector<ServedBroker> BrokersOn(const metadata::MetadataImage& image,
                                    const std::string& listener) {
  std::vector<ServedBroker> out;
  for (const auto& [id, broker] : image.brokers()) {
    if (broker.fenced) continue;
    for (const auto& e : broker.endpoints) {
      if (e.listener == listener) {
        out.push_back({&broker, &e});
        break;
      }
    }
  }
  return out;
}

}  // namespace fjord::server
