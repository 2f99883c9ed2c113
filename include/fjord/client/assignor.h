#pragma once
// The consumer protocol of classic consumer groups (protocol_type "consumer"): what a
// member says it subscribes to when it joins, what the leader hands each member back,
// and the two assignors every Kafka client knows, so members of any client agree.
//
// Both payloads are an int16 version followed by the message at that version; a
// reader of an older build decodes a newer version as far as it understands it (newer
// versions only append fields).

#include <cstdint>
#include <map>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace fjord::client {

// topic: partitions, in order.
using TopicPartitions = std::map<std::string, std::vector<int32_t>>;

std::vector<uint8_t> EncodeSubscription(const std::vector<std::string>& topics);
absl::StatusOr<std::vector<std::string>> DecodeSubscription(std::span<const uint8_t> data);
std::vector<uint8_t> EncodeAssignment(const TopicPartitions& assignment);
absl::StatusOr<TopicPartitions> DecodeAssignment(std::span<const uint8_t> data);

// The assignors by their protocol names:
// - "range": per topic, its subscribers sorted by member id share the partitions in
//   contiguous runs, the first (partitions % members) getting one more.
// - "roundrobin": every subscribed partition, sorted by topic and partition, goes to the
//   next member (in member id order) subscribed to its topic.
inline constexpr const char* kRangeAssignor = "range";
inline constexpr const char* kRoundRobinAssignor = "roundrobin";
bool IsKnownAssignor(const std::string& name);

// Assigns `partition_counts` (topic: how many partitions) to `subscriptions` (member:
// its topics). Every member appears in the result, possibly with nothing. Topics nobody
// subscribes to, or missing from `partition_counts`, are not assigned.
absl::StatusOr<std::map<std::string, TopicPartitions>> Assign(
    const std::string& assignor, const std::map<std::string, std::set<std::string>>& subscriptions,
    const std::map<std::string, int32_t>& partition_counts);

}  // namespace fjord::client
