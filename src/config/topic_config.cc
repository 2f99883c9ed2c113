#include "fjord/config/topic_config.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace fjord::config {

namespace {

std::vector<std::string> Synonyms(const ConfigDef& def) {
  std::vector<std::string> out;
  for (absl::string_view s :
       absl::StrSplit(absl::string_view(def.broker_synonyms.data(), def.broker_synonyms.size()),
                      ',', absl::SkipEmpty())) {
    out.emplace_back(s);
  }
  return out;
}

// The value a topic without an override gets, and where it comes from.
std::pair<std::optional<std::string>, ConfigSource> BrokerDefault(const BrokerConfig& broker,
                                                                  const ConfigDef& def) {
  const std::vector<std::string> synonyms = Synonyms(def);
  ConfigSource source = ConfigSource::kDefaultConfig;
  for (const std::string& s : synonyms) {
    if (broker.Source(s) == ConfigSource::kStaticBrokerConfig) {
      source = ConfigSource::kStaticBrokerConfig;
    }
  }
  if (def.name == "retention.ms") return {absl::StrCat(broker.LogRetentionMs()), source};
  if (def.name == "segment.ms") return {absl::StrCat(broker.LogRollMs()), source};
  if (def.name == "segment.jitter.ms") return {absl::StrCat(broker.LogRollJitterMs()), source};
  if (!synonyms.empty()) {
    if (std::optional<std::string> raw = broker.GetRaw(synonyms.front())) return {raw, source};
  }
  std::optional<std::string> own;
  if (def.default_value) own = std::string(*def.default_value);
  return {own, ConfigSource::kDefaultConfig};
}

std::map<std::string, std::string> EffectiveTopicValues(
    const BrokerConfig& broker, const std::map<std::string, std::string>& overrides) {
  std::map<std::string, std::string> out;
  for (const ConfigDef& def : TopicConfigDefs()) {
    auto it = overrides.find(std::string(def.name));
    if (it != overrides.end()) {
      out[std::string(def.name)] = it->second;
    } else if (auto [value, source] = BrokerDefault(broker, def); value) {
      out[std::string(def.name)] = *value;
    }
  }
  return out;
}

int64_t Long(const std::map<std::string, std::string>& v, const char* name) {
  auto it = v.find(name);
  return it == v.end() ? 0 : ParseInteger(it->second).value_or(0);
}

}  // namespace

absl::Status ValidateTopicConfig(std::string_view name, std::string_view value) {
  const ConfigDef* def = FindTopicConfig(name);
  if (def == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("Unknown topic config name: ", absl::string_view(name.data(), name.size())));
  }
  return ValidateValue(*def, value);
}

absl::StatusOr<storage::LogConfig> MakeLogConfig(
    const BrokerConfig& broker, const std::map<std::string, std::string>& topic_overrides) {
  for (const auto& [name, value] : topic_overrides) {
    if (absl::Status s = ValidateTopicConfig(name, value); !s.ok()) return s;
  }
  const std::map<std::string, std::string> v = EffectiveTopicValues(broker, topic_overrides);
  storage::LogConfig c;
  c.segment_bytes = Long(v, "segment.bytes");
  c.segment_ms = Long(v, "segment.ms");
  c.segment_jitter_ms = Long(v, "segment.jitter.ms");
  c.segment_index_bytes = Long(v, "segment.index.bytes");
  c.index_interval_bytes = static_cast<int32_t>(Long(v, "index.interval.bytes"));
  c.max_message_bytes = static_cast<int32_t>(Long(v, "max.message.bytes"));
  c.message_timestamp_type = v.at("message.timestamp.type") == "LogAppendTime"
                                 ? protocol::TimestampType::kLogAppendTime
                                 : protocol::TimestampType::kCreateTime;
  c.message_timestamp_before_max_ms = Long(v, "message.timestamp.before.max.ms");
  c.message_timestamp_after_max_ms = Long(v, "message.timestamp.after.max.ms");
  c.flush_messages = Long(v, "flush.messages");
  c.flush_ms = Long(v, "flush.ms");
  c.retention_ms = Long(v, "retention.ms");
  c.retention_bytes = Long(v, "retention.bytes");
  c.file_delete_delay_ms = Long(v, "file.delete.delay.ms");
  return c;
}

std::vector<ConfigEntry> DescribeTopicConfigs(const BrokerConfig& broker,
                                              const std::map<std::string, std::string>& overrides) {
  std::vector<ConfigEntry> out;
  for (const ConfigDef& def : TopicConfigDefs()) {
    ConfigEntry e;
    e.name = std::string(def.name);
    e.read_only = false;
    e.sensitive = def.sensitive;
    e.type = def.type;
    e.documentation = std::string(def.doc);
    auto [value, source] = BrokerDefault(broker, def);
    if (auto it = overrides.find(e.name); it != overrides.end()) {
      e.value = it->second;
      e.source = ConfigSource::kDynamicTopicConfig;
      e.synonyms.push_back({e.name, it->second, ConfigSource::kDynamicTopicConfig});
    } else {
      e.value = value;
      e.source = source;
    }
    const std::vector<std::string> synonyms = Synonyms(def);
    for (const std::string& s : synonyms) {
      if (broker.Source(s) == ConfigSource::kStaticBrokerConfig) {
        e.synonyms.push_back({s, broker.GetRaw(s), ConfigSource::kStaticBrokerConfig});
      }
    }
    for (const std::string& s : synonyms) {
      const ConfigDef* b = FindBrokerConfig(s);
      if (b != nullptr && b->default_value) {
        e.synonyms.push_back({s, std::string(*b->default_value), ConfigSource::kDefaultConfig});
      }
    }
    if (synonyms.empty() && def.default_value && e.source != ConfigSource::kDynamicTopicConfig) {
      e.synonyms.push_back({e.name, e.value, ConfigSource::kDefaultConfig});
    }
    if (e.sensitive) {
      e.value.reset();
      for (ConfigSynonym& s : e.synonyms) s.value.reset();
    }
    out.push_back(std::move(e));
  }
  return out;
}

std::vector<ConfigEntry> DescribeBrokerConfigs(const BrokerConfig& broker) {
  std::vector<ConfigEntry> out;
  for (const ConfigDef& def : BrokerConfigDefs()) {
    ConfigEntry e;
    e.name = std::string(def.name);
    e.value = def.sensitive ? std::nullopt : broker.GetRaw(def.name);
    e.source = broker.Source(def.name);
    e.read_only = def.read_only;
    e.sensitive = def.sensitive;
    e.type = def.type;
    e.documentation = std::string(def.doc);
    if (e.source == ConfigSource::kStaticBrokerConfig) {
      e.synonyms.push_back({e.name, e.value, e.source});
    }
    if (def.default_value) {
      e.synonyms.push_back(
          {e.name, def.sensitive ? std::nullopt : std::optional<std::string>(*def.default_value),
           ConfigSource::kDefaultConfig});
    }
    out.push_back(std::move(e));
  }
  return out;
}

}  // namespace fjord::config
