#pragma once
// The registry of every setting of a Fjord node and of a topic, under Apache Kafka's
// names, with Kafka's type, default, allowed values and a one-line description. The
// broker reads typed values from it, DescribeConfigs lists it, and config/fjord.yaml is
// checked against it.

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "absl/status/status.h"

namespace fjord::config {

// Kafka's ConfigType numbering (DescribeConfigs v3+).
enum class ConfigType : int8_t {
  kUnknown = 0,
  kBoolean = 1,
  kString = 2,
  kInt = 3,
  kShort = 4,
  kLong = 5,
  kDouble = 6,
  kList = 7,
  kClass = 8,
  kPassword = 9
};

// Kafka's DescribeConfigs ConfigSource numbering.
enum class ConfigSource : int8_t {
  kUnknown = 0,
  kDynamicTopicConfig = 1,
  kDynamicBrokerConfig = 2,
  kDynamicDefaultBrokerConfig = 3,
  kStaticBrokerConfig = 4,
  kDefaultConfig = 5,
  kDynamicBrokerLoggerConfig = 6
};

struct ConfigDef {
  std::string_view name;  // Kafka's name, e.g. "log.retention.ms"
  ConfigType type;
  std::optional<std::string_view> default_value;  // text form; nullopt = null
  // Numbers: the inclusive range (either bound optional).
  std::optional<double> min;
  std::optional<double> max;
  // Strings: the allowed values (case-insensitive); lists: the allowed items. Empty = any.
  std::span<const std::string_view> allowed;
  std::string_view doc;  // one line
  bool read_only;        // a static broker setting, not alterable at run time
  bool sensitive;        // never printed; DescribeConfigs returns null
  // Topic configs: the broker settings that give the default, most specific first,
  // comma-separated ("log.retention.ms,log.retention.minutes,log.retention.hours").
  std::string_view broker_synonyms;
};

std::span<const ConfigDef> BrokerConfigDefs();  // includes the broker defaults of topics
std::span<const ConfigDef> TopicConfigDefs();
const ConfigDef* FindBrokerConfig(std::string_view name);
const ConfigDef* FindTopicConfig(std::string_view name);

std::string_view ConfigTypeName(ConfigType type);

// Checks a text value against its definition: InvalidArgument naming the key, the value
// and what is allowed, e.g. "invalid value 'abc' for log.retention.ms: expected a long
// integer >= -1".
absl::Status ValidateValue(const ConfigDef& def, std::string_view value);

// Parsers shared by the getters (the value must have passed ValidateValue).
std::optional<bool> ParseBool(std::string_view value);
std::optional<int64_t> ParseInteger(std::string_view value);
std::optional<double> ParseDouble(std::string_view value);

}  // namespace fjord::config
