#include "fjord/client/assignor.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "fjord/protocol/messages/consumer_protocol_assignment.h"
#include "fjord/protocol/messages/consumer_protocol_subscription.h"

namespace fjord::client {

namespace {

// The version this build writes: v0 is what every client reads.
constexpr int16_t kWriteVersion = 0;

template <typename Message>
std::vector<uint8_t> EncodeVersioned(const Message& m) {
  std::vector<uint8_t> out = {static_cast<uint8_t>(kWriteVersion >> 8),
                              static_cast<uint8_t>(kWriteVersion & 0xff)};
  protocol::EncodeMessage(m, kWriteVersion, &out);
  return out;
}

template <typename Message>
absl::StatusOr<Message> DecodeVersioned(std::span<const uint8_t> data) {
  if (data.size() < 2) {
    return absl::DataLossError(absl::StrCat(Message::kName, ": ", data.size(), " byte(s)"));
  }
  auto version = static_cast<int16_t>((data[0] << 8) | data[1]);
  if (version < 0) return absl::DataLossError(absl::StrCat(Message::kName, ": version ", version));
  version = std::min(version, Message::kMaxVersion);
  Message m;
  size_t consumed = 0;  // a newer version's extra fields are left unread
  if (absl::Status s = protocol::DecodeMessage(data.subspan(2), version, &m, &consumed); !s.ok()) {
    return absl::DataLossError(absl::StrCat(Message::kName, ": ", s.message()));
  }
  return m;
}

}  // namespace

std::vector<uint8_t> EncodeSubscription(const std::vector<std::string>& topics) {
  protocol::ConsumerProtocolSubscription s;
  s.topics = topics;
  return EncodeVersioned(s);
}

absl::StatusOr<std::vector<std::string>> DecodeSubscription(std::span<const uint8_t> data) {
  auto s = DecodeVersioned<protocol::ConsumerProtocolSubscription>(data);
  if (!s.ok()) return s.status();
  return std::move(s->topics);
}

std::vector<uint8_t> EncodeAssignment(const TopicPartitions& assignment) {
  protocol::ConsumerProtocolAssignment a;
  for (const auto& [topic, parts] : assignment) {
    protocol::ConsumerProtocolAssignment::TopicPartition tp;
    tp.topic = topic;
    for (int32_t p : parts) tp.partitions.push_back(PartitionId(p));
    a.assigned_partitions.push_back(std::move(tp));
  }
  return EncodeVersioned(a);
}

absl::StatusOr<TopicPartitions> DecodeAssignment(std::span<const uint8_t> data) {
  TopicPartitions out;
  if (data.empty()) return out;  // a member the leader gave nothing
  auto a = DecodeVersioned<protocol::ConsumerProtocolAssignment>(data);
  if (!a.ok()) return a.status();
  for (const auto& tp : a->assigned_partitions) {
    std::vector<int32_t>& parts = out[tp.topic];
    for (PartitionId p : tp.partitions) parts.push_back(p.value);
    std::sort(parts.begin(), parts.end());
  }
  return out;
}

bool IsKnownAssignor(const std::string& name) {
  return name == kRangeAssignor || name == kRoundRobinAssignor;
}

absl::StatusOr<std::map<std::string, TopicPartitions>> Assign(
    const std::string& assignor, const std::map<std::string, std::set<std::string>>& subscriptions,
    const std::map<std::string, int32_t>& partition_counts) {
  std::map<std::string, TopicPartitions> out;
  // Members of each topic, in member id order (the map's order).
  std::map<std::string, std::vector<std::string>> subscribers;
  for (const auto& [member, topics] : subscriptions) {
    out[member];
    for (const std::string& t : topics) {
      if (partition_counts.contains(t)) subscribers[t].push_back(member);
    }
  }
  if (assignor == kRangeAssignor) {
    for (const auto& [topic, members] : subscribers) {
      const int32_t n = partition_counts.at(topic);
      const auto m = static_cast<int32_t>(members.size());
      int32_t next = 0;
      for (int32_t i = 0; i < m; ++i) {
        const int32_t take = n / m + (i < n % m ? 1 : 0);
        if (take == 0) continue;
        std::vector<int32_t>& parts = out[members[i]][topic];
        for (int32_t k = 0; k < take; ++k) parts.push_back(next++);
      }
    }
    return out;
  }
  if (assignor == kRoundRobinAssignor) {
    std::vector<std::string> members;
    for (const auto& [member, topics] : subscriptions) members.push_back(member);
    size_t turn = 0;
    for (const auto& [topic, subs] : subscribers) {
      const std::set<std::string> subscribed(subs.begin(), subs.end());
      for (int32_t p = 0; p < partition_counts.at(topic); ++p) {
        // The next member in the circle that subscribes to this topic.
        while (!subscribed.contains(members[turn % members.size()])) ++turn;
        out[members[turn % members.size()]][topic].push_back(p);
        ++turn;
      }
    }
    return out;
  }
  return absl::InvalidArgumentError(absl::StrCat("unknown assignor '", assignor, "'"));
}

}  // namespace fjord::client
