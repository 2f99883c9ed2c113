// Topic commands: CreateTopics, DeleteTopics, CreatePartitions and Metadata's
// auto-creation. Each validates against the current image, with Kafka's error codes and
// messages, and commits the records of every valid item as one batch.

#include <algorithm>
#include <map>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "controller_state.h"
#include "fjord/base/logging.h"
#include "fjord/config/broker_config.h"
#include "fjord/config/topic_config.h"
#include "fjord/controller/topic_names.h"

namespace fjord::controller {

namespace {

using protocol::ErrorCode;

std::vector<NodeId> UnfencedBrokers(const metadata::MetadataImage& image) {
  std::vector<NodeId> out;
  for (const auto& [id, broker] : image.brokers()) {
    if (!broker.fenced) out.push_back(NodeId(id));
  }
  return out;
}

// Replicas for new partitions [first, first + count): round robin over the unfenced
// brokers from a per-topic starting point, so leaders spread across the cluster.
std::vector<std::vector<NodeId>> PlaceReplicas(const std::vector<NodeId>& brokers,
                                               std::string_view topic, int32_t first, int32_t count,
                                               int16_t replication_factor) {
  std::vector<std::vector<NodeId>> out;
  const size_t n = brokers.size();
  const size_t start = std::hash<std::string_view>{}(topic) % n;
  for (int32_t p = first; p < first + count; ++p) {
    std::vector<NodeId> replicas;
    for (int16_t r = 0; r < replication_factor; ++r) {
      replicas.push_back(brokers[(start + static_cast<size_t>(p) + static_cast<size_t>(r)) % n]);
    }
    out.push_back(std::move(replicas));
  }
  return out;
}

protocol::metadata::PartitionRecord NewPartition(const protocol::Uuid& topic_id, int32_t partition,
                                                 const std::vector<NodeId>& replicas) {
  protocol::metadata::PartitionRecord r;
  r.partition_id = PartitionId(partition);
  r.topic_id = topic_id;
  r.replicas = replicas;
  r.isr = replicas;
  r.leader = replicas.front();
  r.leader_epoch = LeaderEpoch(0);
  r.partition_epoch = 0;
  return r;
}

// Checks a manual assignment: every replica a registered, unfenced broker, no repeats,
// and the same replication factor as `expected_rf` (0 = take the first one's).
std::optional<Failure> CheckAssignment(const metadata::MetadataImage& image,
                                       const std::vector<std::vector<NodeId>>& assignment,
                                       size_t expected_rf) {
  for (const std::vector<NodeId>& replicas : assignment) {
    if (replicas.empty()) {
      return Failure{ErrorCode::kInvalidReplicaAssignment,
                     "The manual partition assignment includes an empty replica list."};
    }
    if (expected_rf == 0) expected_rf = replicas.size();
    if (replicas.size() != expected_rf) {
      return Failure{
          ErrorCode::kInvalidReplicaAssignment,
          absl::StrCat("The manual partition assignment includes a partition with ",
                       replicas.size(), " replica(s), but this is not consistent ",
                       "with previous partitions, which have ", expected_rf, " replica(s).")};
    }
    std::set<int32_t> seen;
    for (NodeId id : replicas) {
      if (!seen.insert(id.value).second) {
        return Failure{ErrorCode::kInvalidReplicaAssignment,
                       absl::StrCat("The manual partition assignment includes the broker ",
                                    id.value, " more than once.")};
      }
      const metadata::BrokerImage* b = image.Broker(id);
      if (b == nullptr || b->fenced) {
        return Failure{ErrorCode::kInvalidReplicaAssignment,
                       absl::StrCat("The manual partition assignment includes broker ", id.value,
                                    ", but no such broker is registered.")};
      }
    }
  }
  return std::nullopt;
}

std::optional<Failure> CheckReplicationFactor(int32_t rf, size_t brokers) {
  if (rf <= 0) {
    return Failure{ErrorCode::kInvalidReplicationFactor,
                   "Replication factor must be larger than 0, or -1 to use the default value."};
  }
  if (static_cast<size_t>(rf) > brokers) {
    return Failure{
        ErrorCode::kInvalidReplicationFactor,
        absl::StrCat("Unable to replicate the partition ", rf,
                     " time(s): The target replication factor of ", rf,
                     " cannot be reached because only ", brokers, " broker(s) are registered.")};
  }
  return std::nullopt;
}

// A topic name the image (plus the names created earlier in the same request) refuses.
std::optional<Failure> CheckNewTopicName(const metadata::MetadataImage& image,
                                         const std::string& name,
                                         const std::map<std::string, std::string>& created) {
  if (absl::Status st = ValidateTopicName(name); !st.ok()) {
    return Failure{ErrorCode::kInvalidTopicException, std::string(st.message())};
  }
  if (image.TopicByName(name) != nullptr) {
    return Failure{ErrorCode::kTopicAlreadyExists,
                   absl::StrCat("Topic '", name, "' already exists.")};
  }
  const std::string key = CollisionKey(name);
  for (const auto& [existing, topic] : image.topics()) {
    if (CollisionKey(existing) == key) {
      return Failure{ErrorCode::kInvalidTopicException,
                     absl::StrCat("Topic '", name, "' collides with existing topic: ", existing)};
    }
  }
  if (auto it = created.find(key); it != created.end()) {
    return Failure{ErrorCode::kInvalidTopicException,
                   absl::StrCat("Topic '", name, "' collides with existing topic: ", it->second)};
  }
  return std::nullopt;
}

// Partition replicas each broker hosts, for max.broker.partitions.
std::map<int32_t, int64_t> ReplicasPerBroker(const metadata::MetadataImage& image) {
  std::map<int32_t, int64_t> out;
  for (const auto& [name, topic] : image.topics()) {
    for (const metadata::PartitionImage& p : topic->partitions) {
      for (NodeId r : p.replicas) ++out[r.value];
    }
  }
  return out;
}

// The limits on what one request may create, checked before anything is allocated for
// the partitions: max.partitions.per.request over the whole request, max.broker.partitions
// per broker as the request's partitions are placed.
class PartitionBudget {
 public:
  PartitionBudget(const config::BrokerConfig& cfg, const metadata::MetadataImage& image)
      : per_request_(cfg.GetInt("max.partitions.per.request")),
        per_broker_(cfg.GetInt("max.broker.partitions")),
        hosted_(ReplicasPerBroker(image)) {}

  // Kafka 4.0's answer for too many partitions in one request.
  std::optional<Failure> CheckRequest(int64_t total) const {
    if (total <= per_request_) return std::nullopt;
    return Failure{ErrorCode::kPolicyViolation,
                   absl::StrCat("Excessively large number of partitions per request (", total,
                                " > max.partitions.per.request=", per_request_, ").")};
  }

  // Places `assignment` on the brokers, or refuses it when one would host too many.
  std::optional<Failure> Place(const std::vector<std::vector<NodeId>>& assignment) {
    std::map<int32_t, int64_t> added;
    for (const auto& replicas : assignment) {
      for (NodeId r : replicas) ++added[r.value];
    }
    for (const auto& [broker, n] : added) {
      if (hosted_[broker] + n > per_broker_) {
        return Failure{ErrorCode::kPolicyViolation,
                       absl::StrCat("Broker ", broker, " would host ", hosted_[broker] + n,
                                    " partition replicas, more than max.broker.partitions=",
                                    per_broker_, ".")};
      }
    }
    for (const auto& [broker, n] : added) hosted_[broker] += n;
    return std::nullopt;
  }

 private:
  const int64_t per_request_;
  const int64_t per_broker_;
  std::map<int32_t, int64_t> hosted_;
};

// The records of one new topic, or why it cannot be created.
struct NewTopic {
  protocol::Uuid id;
  int32_t partitions = 0;
  int16_t replication_factor = 0;
  std::map<std::string, std::string> configs;
};

std::optional<Failure> PlanTopic(const ControllerState& s, const metadata::MetadataImage& image,
                                 const protocol::CreateTopicsRequest::CreatableTopic& t,
                                 PartitionBudget& budget,
                                 std::vector<metadata::MetadataRecord>& records, NewTopic& out) {
  const config::BrokerConfig& cfg = *s.options.config;
  const std::vector<NodeId> brokers = UnfencedBrokers(image);
  std::vector<std::vector<NodeId>> assignment;
  if (!t.assignments.empty()) {
    if (t.num_partitions != -1 || t.replication_factor != -1) {
      return Failure{ErrorCode::kInvalidRequest,
                     "Both numPartitions or replicationFactor and replicasAssignments were set. "
                     "Both cannot be used at the same time."};
    }
    std::map<int32_t, std::vector<NodeId>> by_partition;
    for (const auto& a : t.assignments) by_partition[a.partition_index.value] = a.broker_ids;
    int32_t expect = 0;
    for (const auto& [p, replicas] : by_partition) {
      if (p != expect++) {
        return Failure{ErrorCode::kInvalidReplicaAssignment,
                       "Partitions should be numbered consecutively from 0."};
      }
      assignment.push_back(replicas);
    }
    if (by_partition.size() != t.assignments.size()) {
      return Failure{ErrorCode::kInvalidReplicaAssignment,
                     "The manual partition assignment names a partition more than once."};
    }
    if (auto f = CheckAssignment(image, assignment, 0)) return f;
  } else {
    const int32_t partitions =
        t.num_partitions == -1 ? cfg.GetInt("num.partitions") : t.num_partitions;
    const int32_t rf = t.replication_factor == -1 ? cfg.GetInt("default.replication.factor")
                                                  : t.replication_factor;
    // Kafka checks the replication factor first.
    if (rf <= 0) return CheckReplicationFactor(rf, brokers.size());
    if (partitions <= 0) {
      return Failure{ErrorCode::kInvalidPartitions,
                     "Number of partitions was set to an invalid non-positive value."};
    }
    if (auto f = CheckReplicationFactor(rf, brokers.size())) return f;
    assignment = PlaceReplicas(brokers, t.name, 0, partitions, static_cast<int16_t>(rf));
  }
  if (auto f = budget.Place(assignment)) return f;
  for (const auto& c : t.configs) {
    if (!c.value) {
      return Failure{ErrorCode::kInvalidConfig,
                     absl::StrCat("Null value not supported for topic configs: ", c.name)};
    }
    if (absl::Status st = config::ValidateTopicConfig(c.name, *c.value); !st.ok()) {
      return Failure{ErrorCode::kInvalidConfig, std::string(st.message())};
    }
    out.configs[c.name] = *c.value;
  }
  out.id = RandomUuid();
  out.partitions = static_cast<int32_t>(assignment.size());
  out.replication_factor = static_cast<int16_t>(assignment.front().size());
  protocol::metadata::TopicRecord topic;
  topic.name = t.name;
  topic.topic_id = out.id;
  records.push_back(topic);
  for (const auto& [name, value] : out.configs) {
    protocol::metadata::ConfigRecord c;
    c.resource_type = metadata::kTopicResource;
    c.resource_name = t.name;
    c.name = name;
    c.value = value;
    records.push_back(std::move(c));
  }
  for (int32_t p = 0; p < out.partitions; ++p) {
    records.push_back(NewPartition(out.id, p, assignment[static_cast<size_t>(p)]));
  }
  return std::nullopt;
}

}  // namespace

protocol::CreateTopicsResponse RunCreateTopics(ControllerState& s,
                                               const protocol::CreateTopicsRequest& request,
                                               int16_t version, const Failure* cancelled) {
  using Result = protocol::CreateTopicsResponse::CreatableTopicResult;
  protocol::CreateTopicsResponse resp;
  std::shared_ptr<const metadata::MetadataImage> image = s.Image();
  std::map<std::string, int> name_count;
  for (const auto& t : request.topics) name_count[t.name]++;
  std::vector<metadata::MetadataRecord> records;
  std::vector<size_t> created_items;
  std::map<std::string, std::string> created;  // collision key -> name
  // Every partition the request asks for, counted before any is planned (Kafka 4.0
  // refuses the whole request the same way).
  PartitionBudget budget(*s.options.config, *image);
  int64_t total = 0;
  for (const auto& t : request.topics) {
    if (!t.assignments.empty()) {
      total += static_cast<int64_t>(t.assignments.size());
    } else if (t.num_partitions > 0) {
      total += t.num_partitions;
    } else if (t.num_partitions == -1) {
      total += s.options.config->GetInt("num.partitions");
    }
  }
  const std::optional<Failure> too_many = budget.CheckRequest(total);
  for (const auto& t : request.topics) {
    Result r;
    r.name = t.name;
    r.error_message = std::nullopt;
    r.configs = std::vector<protocol::CreateTopicsResponse::CreatableTopicConfigs>{};
    std::optional<Failure> failure;
    NewTopic plan;
    if (cancelled) {
      failure = *cancelled;
    } else if (too_many) {
      failure = too_many;
    } else if (name_count[t.name] > 1) {
      failure = Failure{ErrorCode::kInvalidRequest,
                        absl::StrCat("Found multiple entries for topic ", t.name, ".")};
    } else if (auto f = CheckNewTopicName(*image, t.name, created)) {
      failure = f;
    } else {
      const size_t mark = records.size();
      failure = PlanTopic(s, *image, t, budget, records, plan);
      if (failure) records.resize(mark);
    }
    if (failure) {
      SetFailure(r, *failure);
      if (version < 5) r.configs.reset();
    } else {
      created[CollisionKey(t.name)] = t.name;
      created_items.push_back(resp.topics.size());
      r.topic_id = plan.id;
      r.num_partitions = plan.partitions;
      r.replication_factor = plan.replication_factor;
      for (const config::ConfigEntry& e :
           config::DescribeTopicConfigs(*s.options.config, plan.configs)) {
        protocol::CreateTopicsResponse::CreatableTopicConfigs c;
        c.name = e.name;
        c.value = e.sensitive ? std::nullopt : e.value;
        c.read_only = e.read_only;
        c.config_source = static_cast<int8_t>(e.source);
        c.is_sensitive = e.sensitive;
        r.configs->push_back(std::move(c));
      }
    }
    resp.topics.push_back(std::move(r));
  }
  if (!request.validate_only && !records.empty()) {
    if (absl::StatusOr<Offset> c = s.Commit(records); !c.ok()) {
      const Failure f = CommitFailure(c.status());
      for (size_t i : created_items) {
        SetFailure(resp.topics[i], f);
        resp.topics[i].topic_id = {};
        resp.topics[i].num_partitions = -1;
        resp.topics[i].replication_factor = -1;
        resp.topics[i].configs->clear();
      }
    }
  }
  return resp;
}

std::vector<std::pair<std::string, ErrorCode>> RunAutoCreateTopics(
    ControllerState& s, const std::vector<std::string>& names, const Failure* cancelled) {
  protocol::CreateTopicsRequest request;
  std::set<std::string> seen;
  std::vector<std::pair<std::string, ErrorCode>> out;
  std::shared_ptr<const metadata::MetadataImage> image = s.Image();
  for (const std::string& name : names) {
    if (!seen.insert(name).second) continue;
    if (image->TopicByName(name) != nullptr) continue;
    protocol::CreateTopicsRequest::CreatableTopic t;
    t.name = name;
    t.num_partitions = -1;
    t.replication_factor = -1;
    request.topics.push_back(std::move(t));
  }
  protocol::CreateTopicsResponse resp = RunCreateTopics(s, request, 7, cancelled);
  for (const std::string& name : seen) {
    ErrorCode code = ErrorCode::kNone;
    for (const auto& r : resp.topics) {
      // Another command may have created it in between: that is success too.
      if (r.name == name && r.error_code != protocol::Code(ErrorCode::kTopicAlreadyExists)) {
        code = static_cast<ErrorCode>(r.error_code);
      }
    }
    out.emplace_back(name, code);
  }
  return out;
}

ErrorCode RunCreateInternalTopic(ControllerState& s, const std::string& name, int32_t partitions,
                                 int16_t replication_factor,
                                 const std::map<std::string, std::string>& configs,
                                 const Failure* cancelled) {
  std::shared_ptr<const metadata::MetadataImage> image = s.Image();
  if (image->TopicByName(name) != nullptr) return ErrorCode::kNone;
  const auto brokers = static_cast<int16_t>(UnfencedBrokers(*image).size());
  if (brokers > 0 && replication_factor > brokers) {
    NamedLogger("controller")
        .warn(
            "creating internal topic {} with replication factor {}: only {} broker(s) "
            "are registered (configured {})",
            name, brokers, brokers, replication_factor);
    replication_factor = brokers;
  }
  protocol::CreateTopicsRequest request;
  protocol::CreateTopicsRequest::CreatableTopic t;
  t.name = name;
  t.num_partitions = partitions;
  t.replication_factor = replication_factor;
  for (const auto& [k, v] : configs) {
    protocol::CreateTopicsRequest::CreatableTopicConfig c;
    c.name = k;
    c.value = v;
    t.configs.push_back(std::move(c));
  }
  request.topics.push_back(std::move(t));
  protocol::CreateTopicsResponse resp = RunCreateTopics(s, request, 7, cancelled);
  const auto code = static_cast<ErrorCode>(resp.topics.at(0).error_code);
  return code == ErrorCode::kTopicAlreadyExists ? ErrorCode::kNone : code;
}

protocol::DeleteTopicsResponse RunDeleteTopics(ControllerState& s,
                                               const protocol::DeleteTopicsRequest& request,
                                               int16_t version, const Failure* cancelled) {
  using Result = protocol::DeleteTopicsResponse::DeletableTopicResult;
  protocol::DeleteTopicsResponse resp;
  std::shared_ptr<const metadata::MetadataImage> image = s.Image();
  // Both request forms as (name, id) pairs.
  std::vector<protocol::DeleteTopicsRequest::DeleteTopicState> wanted;
  if (version < 6) {
    for (const std::string& n : request.topic_names) {
      protocol::DeleteTopicsRequest::DeleteTopicState st;
      st.name = n;
      wanted.push_back(std::move(st));
    }
  } else {
    wanted = request.topics;
  }
  std::set<std::string> seen_names;
  std::set<std::string> seen_ids;
  std::vector<metadata::MetadataRecord> records;
  std::vector<size_t> deleted_items;
  const bool enabled = s.options.config->GetBool("delete.topic.enable");
  for (const auto& w : wanted) {
    Result r;
    r.name = w.name;
    r.topic_id = w.topic_id;
    r.error_message = std::nullopt;
    const bool by_name = w.name.has_value() && !w.name->empty();
    const metadata::TopicImage* topic =
        by_name ? image->TopicByName(*w.name) : image->TopicById(w.topic_id);
    std::optional<Failure> failure;
    if (cancelled) {
      failure = *cancelled;
    } else if (by_name && !w.topic_id.IsZero()) {
      failure = Failure{ErrorCode::kInvalidRequest,
                        "Topic name and topic id cannot both be set in the same request."};
    } else if (by_name ? !seen_names.insert(*w.name).second
                       : !seen_ids.insert(w.topic_id.ToString()).second) {
      failure = Failure{ErrorCode::kInvalidRequest, "Duplicate topic in request."};
    } else if (!enabled) {
      failure = Failure{ErrorCode::kTopicDeletionDisabled,
                        "Topic deletion is disabled (delete.topic.enable=false)."};
    } else if (topic == nullptr) {
      failure = by_name ? Failure{ErrorCode::kUnknownTopicOrPartition,
                                  "This server does not host this topic-partition."}
                        : Failure{ErrorCode::kUnknownTopicId,
                                  "This server does not host this "
                                  "topic ID."};
    }
    if (failure) {
      SetFailure(r, *failure);
    } else {
      r.name = topic->name;
      r.topic_id = topic->id;
      protocol::metadata::RemoveTopicRecord rm;
      rm.topic_id = topic->id;
      records.push_back(rm);
      deleted_items.push_back(resp.responses.size());
    }
    resp.responses.push_back(std::move(r));
  }
  if (!records.empty()) {
    if (absl::StatusOr<Offset> c = s.Commit(records); !c.ok()) {
      const Failure f = CommitFailure(c.status());
      for (size_t i : deleted_items) SetFailure(resp.responses[i], f);
    }
  }
  return resp;
}

protocol::CreatePartitionsResponse RunCreatePartitions(
    ControllerState& s, const protocol::CreatePartitionsRequest& request,
    const Failure* cancelled) {
  using Result = protocol::CreatePartitionsResponse::CreatePartitionsTopicResult;
  protocol::CreatePartitionsResponse resp;
  std::shared_ptr<const metadata::MetadataImage> image = s.Image();
  std::map<std::string, int> name_count;
  for (const auto& t : request.topics) name_count[t.name]++;
  const std::vector<NodeId> brokers = UnfencedBrokers(*image);
  std::vector<metadata::MetadataRecord> records;
  std::vector<size_t> changed_items;
  PartitionBudget budget(*s.options.config, *image);
  int64_t total = 0;
  for (const auto& t : request.topics) {
    if (const metadata::TopicImage* topic = image->TopicByName(t.name)) {
      total +=
          std::max<int64_t>(0, int64_t{t.count} - static_cast<int64_t>(topic->partitions.size()));
    }
  }
  const std::optional<Failure> too_many = budget.CheckRequest(total);
  for (const auto& t : request.topics) {
    Result r;
    r.name = t.name;
    r.error_message = std::nullopt;
    const metadata::TopicImage* topic = image->TopicByName(t.name);
    std::optional<Failure> failure;
    const int32_t current = topic ? static_cast<int32_t>(topic->partitions.size()) : 0;
    const size_t rf =
        topic && !topic->partitions.empty() ? topic->partitions[0].replicas.size() : 1;
    std::vector<std::vector<NodeId>> assignment;
    if (cancelled) {
      failure = *cancelled;
    } else if (too_many && topic != nullptr && t.count > current) {
      failure = too_many;
    } else if (name_count[t.name] > 1) {
      failure = Failure{ErrorCode::kInvalidRequest, "Duplicate topic in request."};
    } else if (topic == nullptr) {
      failure = Failure{ErrorCode::kUnknownTopicOrPartition,
                        absl::StrCat("The topic '", t.name, "' does not exist.")};
    } else if (t.count == current) {
      failure = Failure{ErrorCode::kInvalidPartitions,
                        absl::StrCat("Topic already has ", current, " partition(s).")};
    } else if (t.count < current) {
      failure = Failure{ErrorCode::kInvalidPartitions,
                        absl::StrCat("The topic ", t.name, " currently has ", current,
                                     " partition(s); ", t.count, " would not be an increase.")};
    } else if (t.assignments.has_value()) {
      for (const auto& a : *t.assignments) assignment.push_back(a.broker_ids);
      if (assignment.size() != static_cast<size_t>(t.count - current)) {
        failure = Failure{ErrorCode::kInvalidReplicaAssignment,
                          absl::StrCat("Attempted to add ", t.count - current,
                                       " additional partition(s), but only ", assignment.size(),
                                       " assignment(s) were specified.")};
      } else {
        failure = CheckAssignment(*image, assignment, rf);
      }
    } else if (auto f = CheckReplicationFactor(static_cast<int32_t>(rf), brokers.size())) {
      failure = f;
    } else {
      assignment =
          PlaceReplicas(brokers, t.name, current, t.count - current, static_cast<int16_t>(rf));
    }
    if (!failure) failure = budget.Place(assignment);
    if (failure) {
      SetFailure(r, *failure);
    } else if (!request.validate_only) {
      for (size_t i = 0; i < assignment.size(); ++i) {
        records.push_back(
            NewPartition(topic->id, current + static_cast<int32_t>(i), assignment[i]));
      }
      changed_items.push_back(resp.results.size());
    }
    resp.results.push_back(std::move(r));
  }
  if (!records.empty()) {
    if (absl::StatusOr<Offset> c = s.Commit(records); !c.ok()) {
      const Failure f = CommitFailure(c.status());
      for (size_t i : changed_items) SetFailure(resp.results[i], f);
    }
  }
  return resp;
}

}  // namespace fjord::controller
