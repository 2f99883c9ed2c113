#include "fjord/metadata/metadata_image.h"

#include <variant>

#include "absl/strings/str_cat.h"

namespace fjord::metadata {

namespace {

const MetadataImage::ConfigMap& EmptyConfigs() {
  static const MetadataImage::ConfigMap kEmpty;
  return kEmpty;
}

template <typename... Ts>
struct Overloaded : Ts... {
  using Ts::operator()...;
};
template <typename... Ts>
Overloaded(Ts...) -> Overloaded<Ts...>;

absl::Status Inconsistent(std::string_view record, const std::string& why) {
  return absl::FailedPreconditionError(
      absl::StrCat(absl::string_view(record.data(), record.size()), ": ", why));
}

}  // namespace

std::shared_ptr<const MetadataImage> MetadataImage::Empty() {
  static const std::shared_ptr<const MetadataImage> kEmpty = std::make_shared<MetadataImage>();
  return kEmpty;
}

const TopicImage* MetadataImage::TopicByName(std::string_view name) const {
  auto it = topics_.find(name);
  return it == topics_.end() ? nullptr : it->second.get();
}

const TopicImage* MetadataImage::TopicById(const protocol::Uuid& id) const {
  auto it = topic_by_id_.find(id.ToString());
  return it == topic_by_id_.end() ? nullptr : TopicByName(it->second);
}

const BrokerImage* MetadataImage::Broker(NodeId id) const {
  auto it = brokers_.find(id.value);
  return it == brokers_.end() ? nullptr : &it->second;
}

const MetadataImage::ConfigMap& MetadataImage::TopicConfigs(std::string_view topic) const {
  auto it = topic_configs_.find(topic);
  return it == topic_configs_.end() ? EmptyConfigs() : it->second;
}

const MetadataImage::ConfigMap& MetadataImage::BrokerConfigs(std::string_view broker) const {
  auto it = broker_configs_.find(broker);
  return it == broker_configs_.end() ? EmptyConfigs() : it->second;
}

std::optional<int16_t> MetadataImage::FeatureLevel(std::string_view feature) const {
  auto it = features_.find(std::string(feature));
  if (it == features_.end()) return std::nullopt;
  return it->second;
}

MetadataDelta::MetadataDelta(std::shared_ptr<const MetadataImage> base) : next_(*base) {}

TopicImage& MetadataDelta::MutableTopic(const std::string& name) {
  auto owned = owned_.find(name);
  if (owned != owned_.end()) return *owned->second;
  auto copy = std::make_shared<TopicImage>(*next_.topics_.at(name));
  next_.topics_[name] = copy;
  owned_[name] = copy;
  return *copy;
}

absl::Status MetadataDelta::Replay(const MetadataRecord& record) {
  MetadataImage& n = next_;
  absl::Status status = std::visit(
      Overloaded{
          [&](const protocol::metadata::RegisterBrokerRecord& r) -> absl::Status {
            BrokerImage b;
            b.id = r.broker_id;
            b.epoch = r.broker_epoch;
            b.incarnation_id = r.incarnation_id;
            for (const auto& e : r.end_points) {
              b.endpoints.push_back({e.name, e.host, e.port, e.security_protocol});
            }
            b.rack = r.rack;
            b.fenced = r.fenced;
            n.brokers_[r.broker_id.value] = std::move(b);
            return absl::OkStatus();
          },
          [&](const protocol::metadata::UnregisterBrokerRecord& r) -> absl::Status {
            if (n.brokers_.erase(r.broker_id.value) == 0) {
              return Inconsistent(r.kName, absl::StrCat("unknown broker ", r.broker_id.value));
            }
            return absl::OkStatus();
          },
          [&](const protocol::metadata::FenceBrokerRecord& r) -> absl::Status {
            auto it = n.brokers_.find(r.id.value);
            if (it == n.brokers_.end()) {
              return Inconsistent(r.kName, absl::StrCat("unknown broker ", r.id.value));
            }
            it->second.fenced = true;
            return absl::OkStatus();
          },
          [&](const protocol::metadata::UnfenceBrokerRecord& r) -> absl::Status {
            auto it = n.brokers_.find(r.id.value);
            if (it == n.brokers_.end()) {
              return Inconsistent(r.kName, absl::StrCat("unknown broker ", r.id.value));
            }
            it->second.fenced = false;
            return absl::OkStatus();
          },
          [&](const protocol::metadata::BrokerRegistrationChangeRecord& r) -> absl::Status {
            auto it = n.brokers_.find(r.broker_id.value);
            if (it == n.brokers_.end()) {
              return Inconsistent(r.kName, absl::StrCat("unknown broker ", r.broker_id.value));
            }
            if (r.fenced == 1) it->second.fenced = true;    // FENCE
            if (r.fenced == -1) it->second.fenced = false;  // UNFENCE
            return absl::OkStatus();
          },
          [&](const protocol::metadata::TopicRecord& r) -> absl::Status {
            if (n.topics_.count(r.name) > 0) {
              return Inconsistent(r.kName, absl::StrCat("topic ", r.name, " already exists"));
            }
            if (r.topic_id.IsZero() || n.topic_by_id_.count(r.topic_id.ToString()) > 0) {
              return Inconsistent(
                  r.kName, absl::StrCat("topic id ", r.topic_id.ToString(), " is zero or in use"));
            }
            auto topic = std::make_shared<TopicImage>();
            topic->name = r.name;
            topic->id = r.topic_id;
            n.topics_[r.name] = topic;
            owned_[r.name] = topic;
            n.topic_by_id_[r.topic_id.ToString()] = r.name;
            return absl::OkStatus();
          },
          [&](const protocol::metadata::PartitionRecord& r) -> absl::Status {
            auto id = n.topic_by_id_.find(r.topic_id.ToString());
            if (id == n.topic_by_id_.end()) {
              return Inconsistent(r.kName,
                                  absl::StrCat("unknown topic id ", r.topic_id.ToString()));
            }
            const size_t p = static_cast<size_t>(r.partition_id.value);
            if (r.partition_id.value < 0 || p > n.topics_.at(id->second)->partitions.size() ||
                r.replicas.empty()) {
              return Inconsistent(
                  r.kName, absl::StrCat("partition ", r.partition_id.value, " of ", id->second,
                                        " is out of order or has no replicas"));
            }
            TopicImage& t = MutableTopic(id->second);
            PartitionImage part{r.partition_id, r.replicas,     r.isr,
                                r.leader,       r.leader_epoch, r.partition_epoch};
            if (p == t.partitions.size()) {
              t.partitions.push_back(std::move(part));
            } else {
              t.partitions[p] = std::move(part);
            }
            return absl::OkStatus();
          },
          [&](const protocol::metadata::PartitionChangeRecord& r) -> absl::Status {
            auto id = n.topic_by_id_.find(r.topic_id.ToString());
            if (id == n.topic_by_id_.end() || r.partition_id.value < 0 ||
                static_cast<size_t>(r.partition_id.value) >=
                    n.topics_.at(id->second)->partitions.size()) {
              return Inconsistent(r.kName, absl::StrCat("unknown partition ", r.partition_id.value,
                                                        " of topic id ", r.topic_id.ToString()));
            }
            TopicImage& t = MutableTopic(id->second);
            PartitionImage& part = t.partitions[static_cast<size_t>(r.partition_id.value)];
            if (r.isr) part.isr = *r.isr;
            if (r.replicas) part.replicas = *r.replicas;
            // -2 means "no change"; a new leader starts a new leader epoch.
            if (r.leader.value != -2 && r.leader != part.leader) {
              part.leader = r.leader;
              part.leader_epoch = LeaderEpoch(part.leader_epoch.value + 1);
            }
            part.partition_epoch++;
            return absl::OkStatus();
          },
          [&](const protocol::metadata::RemoveTopicRecord& r) -> absl::Status {
            auto id = n.topic_by_id_.find(r.topic_id.ToString());
            if (id == n.topic_by_id_.end()) {
              return Inconsistent(r.kName,
                                  absl::StrCat("unknown topic id ", r.topic_id.ToString()));
            }
            const std::string name = id->second;
            n.topics_.erase(name);
            owned_.erase(name);
            n.topic_configs_.erase(name);
            n.topic_by_id_.erase(id);
            return absl::OkStatus();
          },
          [&](const protocol::metadata::ConfigRecord& r) -> absl::Status {
            auto* configs = r.resource_type == kTopicResource    ? &n.topic_configs_
                            : r.resource_type == kBrokerResource ? &n.broker_configs_
                                                                 : nullptr;
            if (configs == nullptr) return absl::OkStatus();  // kept by later features
            if (r.value) {
              (*configs)[r.resource_name][r.name] = *r.value;
            } else if (auto it = configs->find(r.resource_name); it != configs->end()) {
              it->second.erase(r.name);
              if (it->second.empty()) configs->erase(it);
            }
            return absl::OkStatus();
          },
          [&](const protocol::metadata::FeatureLevelRecord& r) -> absl::Status {
            if (r.feature_level == 0) {
              n.features_.erase(r.name);
            } else {
              n.features_[r.name] = r.feature_level;
            }
            return absl::OkStatus();
          },
          [&](const protocol::metadata::ProducerIdsRecord& r) -> absl::Status {
            if (r.next_producer_id.value < n.next_producer_id_) {
              return Inconsistent(r.kName,
                                  absl::StrCat("next producer id ", r.next_producer_id.value,
                                               " goes backwards from ", n.next_producer_id_));
            }
            n.next_producer_id_ = r.next_producer_id.value;
            return absl::OkStatus();
          },
          [&](const protocol::metadata::NoOpRecord&) -> absl::Status { return absl::OkStatus(); },
      },
      record);
  if (status.ok()) empty_ = false;
  return status;
}

std::shared_ptr<const MetadataImage> MetadataDelta::Apply(Offset last_offset) const {
  auto image = std::make_shared<MetadataImage>(next_);
  image->offset_ = last_offset;
  // Topics changed by this delta get copies of their own, so replaying more records into
  // the delta never touches a published image.
  for (const auto& [name, topic] : owned_) {
    image->topics_[name] = std::make_shared<const TopicImage>(*topic);
  }
  return image;
}

}  // namespace fjord::metadata
