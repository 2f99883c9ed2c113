#pragma once
// The static configuration of one node: the registry's defaults, overlaid with the YAML
// file, then with --set overrides. Immutable after Load; cheap to copy; safe to read from
// any thread.

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "fjord/config/config_def.h"

namespace fjord::config {

class BrokerConfig {
 public:
  // Loads `yaml_path` (nullopt = no file: the embedded defaults) and applies `overrides`
  // ("key=value", from --set). The YAML is a mapping of Kafka setting names; nested
  // mappings are joined with '.', sequences become Kafka's comma-separated lists. Unknown
  // keys, bad values, malformed YAML or a missing file are errors naming the file, line
  // and key where there is one.
  static absl::StatusOr<BrokerConfig> Load(const std::optional<std::string>& yaml_path,
                                           const std::vector<std::string>& overrides);
  static BrokerConfig Defaults();

  // Typed getters. The name must be a registered broker setting (aborts otherwise: a
  // programming error); values were validated at load.
  bool GetBool(std::string_view name) const;
  int32_t GetInt(std::string_view name) const;
  int64_t GetLong(std::string_view name) const;
  double GetDouble(std::string_view name) const;
  std::string GetString(std::string_view name) const;  // "" for null
  std::vector<std::string> GetList(std::string_view name) const;
  std::optional<std::string> GetRaw(std::string_view name) const;  // nullopt = null
  // kStaticBrokerConfig when set in the file or with --set, else kDefaultConfig.
  ConfigSource Source(std::string_view name) const;

  // Kafka's precedence: log.retention.ms > .minutes > .hours (and the same for
  // log.roll.* and log.roll.jitter.*).
  int64_t LogRetentionMs() const;
  int64_t LogRollMs() const;
  int64_t LogRollJitterMs() const;
  std::vector<std::string> LogDirs() const;  // log.dirs, else log.dir

 private:
  const ConfigDef& Def(std::string_view name) const;
  absl::Status Set(std::string_view name, std::optional<std::string> value, std::string_view where);
  absl::Status CheckCrossField() const;

  std::map<std::string, std::optional<std::string>, std::less<>> set_;  // explicitly set
};

}  // namespace fjord::config
