#include "fjord/config/broker_config.h"

#include <yaml-cpp/yaml.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "fjord/config/listener.h"

namespace fjord::config {

namespace {

// Flattens a YAML mapping into (dotted key, value, line) triples.
struct Entry {
  std::string key;
  std::optional<std::string> value;
  int line;
};

absl::Status Flatten(const YAML::Node& node, const std::string& prefix, const std::string& file,
                     std::vector<Entry>& out) {
  for (const auto& kv : node) {
    const std::string key =
        prefix.empty() ? kv.first.Scalar() : absl::StrCat(prefix, ".", kv.first.Scalar());
    const YAML::Node& v = kv.second;
    const int line = v.Mark().line + 1;
    if (v.IsMap()) {
      if (absl::Status s = Flatten(v, key, file, out); !s.ok()) return s;
    } else if (v.IsSequence()) {
      std::vector<std::string> items;
      for (const YAML::Node& item : v) {
        if (!item.IsScalar()) {
          return absl::InvalidArgumentError(
              absl::StrCat(file, " line ", line, ": ", key, ": list items must be plain values"));
        }
        items.push_back(item.Scalar());
      }
      out.push_back({key, absl::StrJoin(items, ","), line});
    } else if (v.IsNull()) {
      out.push_back({key, std::nullopt, line});
    } else {
      out.push_back({key, v.Scalar(), line});
    }
  }
  return absl::OkStatus();
}

}  // namespace

BrokerConfig BrokerConfig::Defaults() { return BrokerConfig(); }

absl::StatusOr<BrokerConfig> BrokerConfig::Load(const std::optional<std::string>& yaml_path,
                                                const std::vector<std::string>& overrides) {
  BrokerConfig config;
  if (yaml_path) {
    const std::string& file = *yaml_path;
    std::error_code ec;
    if (!std::filesystem::is_regular_file(file, ec)) {
      return absl::NotFoundError(absl::StrCat("config file ", file, " does not exist"));
    }
    std::vector<Entry> entries;
    try {
      YAML::Node root = YAML::LoadFile(file);
      if (!root.IsNull()) {
        if (!root.IsMap()) {
          return absl::InvalidArgumentError(
              absl::StrCat(file, ": expected a mapping of setting names to values"));
        }
        if (absl::Status s = Flatten(root, "", file, entries); !s.ok()) return s;
      }
    } catch (const YAML::Exception& e) {
      return absl::InvalidArgumentError(
          absl::StrCat(file, " line ", e.mark.line + 1, ": malformed YAML: ", e.msg));
    }
    for (const Entry& e : entries) {
      if (absl::Status s = config.Set(e.key, e.value, absl::StrCat(file, " line ", e.line));
          !s.ok()) {
        return s;
      }
    }
  }
  for (const std::string& o : overrides) {
    size_t eq = o.find('=');
    if (eq == std::string::npos || eq == 0) {
      return absl::InvalidArgumentError(absl::StrCat("--set ", o, ": expected key=value"));
    }
    if (absl::Status s = config.Set(o.substr(0, eq), o.substr(eq + 1), "--set"); !s.ok()) {
      return s;
    }
  }
  if (absl::Status s = config.CheckCrossField(); !s.ok()) return s;
  return config;
}

absl::Status BrokerConfig::Set(std::string_view name, std::optional<std::string> value,
                               std::string_view where) {
  const ConfigDef* def = FindBrokerConfig(name);
  if (def == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat(absl::string_view(where.data(), where.size()), ": unknown setting '",
                     absl::string_view(name.data(), name.size()),
                     "' (settings use Kafka's names; see config/fjord.yaml)"));
  }
  if (value) {
    if (absl::Status s = ValidateValue(*def, *value); !s.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat(absl::string_view(where.data(), where.size()), ": ", s.message()));
    }
  }
  set_[std::string(name)] = std::move(value);
  return absl::OkStatus();
}

absl::Status BrokerConfig::CheckCrossField() const {
  const std::string map = GetString("listener.security.protocol.map");
  absl::StatusOr<std::vector<Listener>> listeners = ParseListeners(GetString("listeners"), map);
  if (!listeners.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("listeners: ", listeners.status().message()));
  }
  if (listeners->empty()) return absl::InvalidArgumentError("listeners: at least one is needed");
  if (std::optional<std::string> adv = GetRaw("advertised.listeners")) {
    absl::StatusOr<std::vector<Listener>> advertised = ParseListeners(*adv, map);
    if (!advertised.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("advertised.listeners: ", advertised.status().message()));
    }
    for (const Listener& a : *advertised) {
      bool found = false;
      for (const Listener& l : *listeners) found = found || l.name == a.name;
      if (!found) {
        return absl::InvalidArgumentError(absl::StrCat("advertised.listeners: listener name ",
                                                       a.name, " is not one of listeners"));
      }
    }
  }
  if (LogDirs().empty()) return absl::InvalidArgumentError("log.dirs: no data directory given");
  return absl::OkStatus();
}

const ConfigDef& BrokerConfig::Def(std::string_view name) const {
  const ConfigDef* def = FindBrokerConfig(name);
  if (def == nullptr) {
    std::fprintf(stderr, "fjord: internal error: unregistered setting %.*s\n",
                 static_cast<int>(name.size()), name.data());
    std::abort();
  }
  return *def;
}

std::optional<std::string> BrokerConfig::GetRaw(std::string_view name) const {
  const ConfigDef& def = Def(name);
  if (auto it = set_.find(name); it != set_.end()) return it->second;
  if (def.default_value) return std::string(*def.default_value);
  return std::nullopt;
}

ConfigSource BrokerConfig::Source(std::string_view name) const {
  Def(name);
  return set_.count(name) > 0 ? ConfigSource::kStaticBrokerConfig : ConfigSource::kDefaultConfig;
}

bool BrokerConfig::GetBool(std::string_view name) const {
  return ParseBool(GetRaw(name).value_or("false")).value_or(false);
}

int64_t BrokerConfig::GetLong(std::string_view name) const {
  return ParseInteger(GetRaw(name).value_or("0")).value_or(0);
}

int32_t BrokerConfig::GetInt(std::string_view name) const {
  return static_cast<int32_t>(GetLong(name));
}

double BrokerConfig::GetDouble(std::string_view name) const {
  return ParseDouble(GetRaw(name).value_or("0")).value_or(0);
}

std::string BrokerConfig::GetString(std::string_view name) const {
  return GetRaw(name).value_or("");
}

std::vector<std::string> BrokerConfig::GetList(std::string_view name) const {
  std::vector<std::string> out;
  for (absl::string_view item : absl::StrSplit(GetString(name), ',', absl::SkipWhitespace())) {
    out.emplace_back(absl::StripAsciiWhitespace(item));
  }
  return out;
}

int64_t BrokerConfig::LogRetentionMs() const {
  if (GetRaw("log.retention.ms")) return GetLong("log.retention.ms");
  if (GetRaw("log.retention.minutes")) return GetLong("log.retention.minutes") * 60 * 1000;
  const int64_t hours = GetLong("log.retention.hours");
  return hours < 0 ? -1 : hours * 3600 * 1000;
}

int64_t BrokerConfig::LogRollMs() const {
  if (GetRaw("log.roll.ms")) return GetLong("log.roll.ms");
  return GetLong("log.roll.hours") * 3600 * 1000;
}

int64_t BrokerConfig::LogRollJitterMs() const {
  if (GetRaw("log.roll.jitter.ms")) return GetLong("log.roll.jitter.ms");
  return GetLong("log.roll.jitter.hours") * 3600 * 1000;
}

std::vector<std::string> BrokerConfig::LogDirs() const {
  if (GetRaw("log.dirs")) return GetList("log.dirs");
  return GetList("log.dir");
}

}  // namespace fjord::config
