#pragma once
// What several commands share: offsets by time (ListOffsets, each partition at its
// leader), a resource's configs (DescribeConfigs), a topic's partitions, producing one
// batch, and the parsing of times, settings and codec names.

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "context.h"
#include "fjord/protocol/record_batch.h"

namespace fjord::ctl {

// ListOffsets' special timestamps.
inline constexpr int64_t kLatest = -1;
inline constexpr int64_t kEarliest = -2;
inline constexpr int64_t kMaxTimestamp = -3;

struct OffsetAt {
  int64_t offset = -1;     // -1: no record that recent
  int64_t timestamp = -1;  // of that record (by-time lookups)
};

// The offset for `timestamp` (or one of the specials) in each partition of `topic`.
absl::StatusOr<std::map<int32_t, OffsetAt>> ListOffsets(Context& ctx, const std::string& topic,
                                                        const std::vector<int32_t>& partitions,
                                                        int64_t timestamp);

// Parses a time as fjordctl takes it: earliest, latest, max, milliseconds since the epoch,
// or an ISO-8601 UTC date-time (2024-05-01T12:00:00Z, seconds and Z optional).
absl::StatusOr<int64_t> ParseTime(const std::string& text);

struct ConfigEntry {
  std::string name;
  std::optional<std::string> value;
  std::string source;  // Kafka's names: DYNAMIC_TOPIC_CONFIG, DEFAULT_CONFIG, ...
  bool read_only = false;
  bool sensitive = false;
  bool is_default = false;
};

// resource_type: 2 topic, 4 broker.
absl::StatusOr<std::vector<ConfigEntry>> DescribeConfigs(Context& ctx, int8_t resource_type,
                                                         const std::string& name);

// "key=value" split at the first '=' (kInvalidArgument otherwise).
absl::StatusOr<std::pair<std::string, std::string>> SplitSetting(const std::string& kv);

// IncrementalAlterConfigs: SET each of `set` (key=value), DELETE each key of `del`.
absl::Status AlterConfigs(Context& ctx, int8_t resource_type, const std::string& name,
                          const std::vector<std::string>& set, const std::vector<std::string>& del);

// The partitions of a topic from metadata (UNKNOWN_TOPIC_OR_PARTITION when it is
// missing). `auto_create`: as a producer, let the broker create it (auto.create.topics.enable)
// and wait, within the timeout, for its partitions to have leaders.
absl::StatusOr<client::TopicInfo> DescribeTopic(Context& ctx, const std::string& topic,
                                                bool auto_create = false);

// "none", "gzip", "snappy", "lz4" or "zstd".
absl::StatusOr<protocol::Compression> CompressionOf(const std::string& name);

// A Produce of one record batch to one partition's leader, owning what it sends (so it
// may be sent asynchronously). acks=0 expects no answer.
client::Client::RawCall ProduceCall(const std::string& topic, int32_t partition, int16_t acks,
                                    int32_t timeout_ms, std::vector<uint8_t> batch);
// The offset the leader gave the batch, or its error named "topic-partition".
absl::StatusOr<int64_t> ProduceOutcome(const client::RawResponse& raw, const std::string& topic,
                                       int32_t partition);

}  // namespace fjord::ctl
