#pragma once
// Topic configs: validation of overrides, the effective LogConfig of a topic, and the
// DescribeConfigs view of topic and broker settings (values, sources and synonyms as Kafka
// reports them).

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "fjord/config/broker_config.h"
#include "fjord/config/config_def.h"
#include "fjord/storage/log_config.h"

namespace fjord::config {

// An unknown name → InvalidArgument "Unknown topic config name: x"; a bad value →
// ValidateValue's message.
absl::Status ValidateTopicConfig(std::string_view name, std::string_view value);

// The broker defaults (log.* synonyms) overlaid with the topic's overrides.
absl::StatusOr<storage::LogConfig> MakeLogConfig(
    const BrokerConfig& broker, const std::map<std::string, std::string>& topic_overrides);

struct ConfigSynonym {
  std::string name;
  std::optional<std::string> value;
  ConfigSource source;
};

struct ConfigEntry {
  std::string name;
  std::optional<std::string> value;
  ConfigSource source;
  bool read_only;
  bool sensitive;
  ConfigType type;
  std::string documentation;
  std::vector<ConfigSynonym> synonyms;  // most specific first
};

// Every topic config with its effective value: the override (dynamic topic config), else
// the broker setting from the file (static broker config), else the default.
std::vector<ConfigEntry> DescribeTopicConfigs(const BrokerConfig& broker,
                                              const std::map<std::string, std::string>& overrides);
// Every broker setting (sensitive values null).
std::vector<ConfigEntry> DescribeBrokerConfigs(const BrokerConfig& broker);

}  // namespace fjord::config
