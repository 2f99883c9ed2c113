// Config commands: AlterConfigs (replace a resource's overrides) and
// IncrementalAlterConfigs (SET, DELETE, APPEND, SUBTRACT). Topic overrides are
// ConfigRecords in the metadata log; a null value deletes one.

#include <algorithm>
#include <map>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "controller_state.h"
#include "fjord/config/broker_config.h"
#include "fjord/config/config_def.h"
#include "fjord/config/topic_config.h"

namespace fjord::controller {

namespace {

using protocol::ErrorCode;
using Overrides = std::map<std::string, std::string>;

constexpr int8_t kBrokerLoggerResource = 8;

// The ConfigRecords taking a topic from `current` to `next` overrides.
void DiffOverrides(const std::string& topic, const Overrides& current, const Overrides& next,
                   std::vector<metadata::MetadataRecord>& records) {
  auto record = [&](const std::string& name, std::optional<std::string> value) {
    protocol::metadata::ConfigRecord r;
    r.resource_type = metadata::kTopicResource;
    r.resource_name = topic;
    r.name = name;
    r.value = std::move(value);
    records.push_back(std::move(r));
  };
  for (const auto& [name, value] : current) {
    if (next.count(name) == 0) record(name, std::nullopt);
  }
  for (const auto& [name, value] : next) {
    auto it = current.find(name);
    if (it == current.end() || it->second != value) record(name, value);
  }
}

std::optional<Failure> CheckTopicValue(const std::string& name,
                                       const std::optional<std::string>& value) {
  if (!value) {
    return Failure{ErrorCode::kInvalidRequest,
                   absl::StrCat("Null value not supported for topic config: ", name)};
  }
  if (absl::Status st = config::ValidateTopicConfig(name, *value); !st.ok()) {
    return Failure{ErrorCode::kInvalidConfig, std::string(st.message())};
  }
  return std::nullopt;
}

// Broker configs are checked but not yet changed at run time.
std::optional<Failure> CheckBrokerChange(const ControllerState& s, const std::string& resource,
                                         const std::vector<std::string>& names,
                                         const std::vector<std::optional<std::string>>& values,
                                         bool validate_only) {
  if (!resource.empty() && resource != std::to_string(s.options.node_id.value)) {
    return Failure{ErrorCode::kInvalidRequest,
                   absl::StrCat("Unexpected broker id, expected ", s.options.node_id.value,
                                " or empty string, but received ", resource)};
  }
  for (size_t i = 0; i < names.size(); ++i) {
    const config::ConfigDef* def = config::FindBrokerConfig(names[i]);
    if (def == nullptr) {
      return Failure{ErrorCode::kInvalidConfig,
                     absl::StrCat("Unknown broker config name: ", names[i])};
    }
    if (def->read_only) {
      return Failure{ErrorCode::kInvalidRequest,
                     absl::StrCat("Cannot update these configs dynamically: Set(", names[i], ")")};
    }
    if (values[i]) {
      if (absl::Status st = config::ValidateValue(*def, *values[i]); !st.ok()) {
        return Failure{ErrorCode::kInvalidConfig, std::string(st.message())};
      }
    }
  }
  if (!validate_only) {
    return Failure{ErrorCode::kInvalidRequest,
                   "Fjord does not support dynamic broker configs yet; set them in the config "
                   "file or with --set and restart"};
  }
  return std::nullopt;
}

template <typename Resource>
std::optional<Failure> CheckResource(const metadata::MetadataImage& image, const Resource& r,
                                     std::set<std::pair<int8_t, std::string>>& seen) {
  if (!seen.insert({r.resource_type, r.resource_name}).second) {
    return Failure{ErrorCode::kInvalidRequest,
                   absl::StrCat("Duplicate resource in request: ", r.resource_name)};
  }
  if (r.resource_type == metadata::kTopicResource) {
    if (image.TopicByName(r.resource_name) == nullptr) {
      return Failure{ErrorCode::kUnknownTopicOrPartition,
                     absl::StrCat("The topic '", r.resource_name, "' does not exist.")};
    }
    std::set<std::string> names;
    for (const auto& c : r.configs) {
      if (!names.insert(c.name).second) {
        return Failure{ErrorCode::kInvalidRequest,
                       absl::StrCat("Error due to duplicate config keys: ", c.name)};
      }
    }
    return std::nullopt;
  }
  if (r.resource_type == metadata::kBrokerResource) return std::nullopt;
  if (r.resource_type == kBrokerLoggerResource) {
    return Failure{ErrorCode::kInvalidRequest, "Fjord does not support broker logger configs"};
  }
  return Failure{ErrorCode::kInvalidRequest,
                 absl::StrCat("Unsupported resource type ", r.resource_type)};
}

// The shared shape of both commands: per resource, a plan function returns the next
// overrides of a topic (or a failure); the records of every topic go in one batch.
template <typename Request, typename Response, typename PlanTopic, typename CheckBroker>
Response RunConfigCommand(ControllerState& s, const Request& request, const Failure* cancelled,
                          PlanTopic plan_topic, CheckBroker check_broker) {
  Response resp;
  std::shared_ptr<const metadata::MetadataImage> image = s.Image();
  std::set<std::pair<int8_t, std::string>> seen;
  std::vector<metadata::MetadataRecord> records;
  std::vector<size_t> changed;
  for (const auto& res : request.resources) {
    typename decltype(resp.responses)::value_type r;
    r.resource_type = res.resource_type;
    r.resource_name = res.resource_name;
    r.error_message = std::nullopt;
    std::optional<Failure> failure;
    if (cancelled) {
      failure = *cancelled;
    } else if (auto f = CheckResource(*image, res, seen)) {
      failure = f;
    } else if (res.resource_type == metadata::kBrokerResource) {
      failure = check_broker(res);
    } else {
      const Overrides& current = image->TopicConfigs(res.resource_name);
      Overrides next = current;
      failure = plan_topic(res, next);
      if (!failure && !request.validate_only) {
        const size_t before = records.size();
        DiffOverrides(res.resource_name, current, next, records);
        if (records.size() > before) changed.push_back(resp.responses.size());
      }
    }
    if (failure) SetFailure(r, *failure);
    resp.responses.push_back(std::move(r));
  }
  if (!records.empty()) {
    if (absl::StatusOr<Offset> c = s.Commit(records); !c.ok()) {
      const Failure f = CommitFailure(c.status());
      for (size_t i : changed) SetFailure(resp.responses[i], f);
    }
  }
  return resp;
}

// The effective value of a list config (override, else its default) as items.
std::vector<std::string> CurrentList(const ControllerState& s, const Overrides& overrides,
                                     const std::string& name) {
  std::string value;
  if (auto it = overrides.find(name); it != overrides.end()) {
    value = it->second;
  } else {
    for (const config::ConfigEntry& e : config::DescribeTopicConfigs(*s.options.config, {})) {
      if (e.name == name && e.value) value = *e.value;
    }
  }
  std::vector<std::string> out;
  for (absl::string_view item : absl::StrSplit(value, ',', absl::SkipWhitespace())) {
    out.emplace_back(absl::StripAsciiWhitespace(item));
  }
  return out;
}

}  // namespace

protocol::AlterConfigsResponse RunAlterConfigs(ControllerState& s,
                                               const protocol::AlterConfigsRequest& request,
                                               const Failure* cancelled) {
  using Resource = protocol::AlterConfigsRequest::AlterConfigsResource;
  return RunConfigCommand<protocol::AlterConfigsRequest, protocol::AlterConfigsResponse>(
      s, request, cancelled,
      [](const Resource& res, Overrides& next) -> std::optional<Failure> {
        next.clear();  // the request is the whole new set
        for (const auto& c : res.configs) {
          if (auto f = CheckTopicValue(c.name, c.value)) return f;
          next[c.name] = *c.value;
        }
        return std::nullopt;
      },
      [&s, &request](const Resource& res) {
        std::vector<std::string> names;
        std::vector<std::optional<std::string>> values;
        for (const auto& c : res.configs) {
          names.push_back(c.name);
          values.push_back(c.value);
        }
        return CheckBrokerChange(s, res.resource_name, names, values, request.validate_only);
      });
}

protocol::IncrementalAlterConfigsResponse RunIncrementalAlterConfigs(
    ControllerState& s, const protocol::IncrementalAlterConfigsRequest& request,
    const Failure* cancelled) {
  using Resource = protocol::IncrementalAlterConfigsRequest::AlterConfigsResource;
  enum : int8_t { kSet = 0, kDelete = 1, kAppend = 2, kSubtract = 3 };
  return RunConfigCommand<protocol::IncrementalAlterConfigsRequest,
                          protocol::IncrementalAlterConfigsResponse>(
      s, request, cancelled,
      [&s](const Resource& res, Overrides& next) -> std::optional<Failure> {
        for (const auto& c : res.configs) {
          const config::ConfigDef* def = config::FindTopicConfig(c.name);
          if (def == nullptr) {
            return Failure{ErrorCode::kInvalidConfig,
                           absl::StrCat("Unknown topic config name: ", c.name)};
          }
          switch (c.config_operation) {
            case kSet:
              if (auto f = CheckTopicValue(c.name, c.value)) return f;
              next[c.name] = *c.value;
              break;
            case kDelete:
              next.erase(c.name);
              break;
            case kAppend:
            case kSubtract: {
              if (def->type != config::ConfigType::kList) {
                return Failure{ErrorCode::kInvalidConfig,
                               absl::StrCat("Config value append/subtract is not allowed for "
                                            "config key: ",
                                            c.name)};
              }
              std::vector<std::string> items = CurrentList(s, next, c.name);
              for (absl::string_view v :
                   absl::StrSplit(c.value.value_or(""), ',', absl::SkipWhitespace())) {
                std::string item(absl::StripAsciiWhitespace(v));
                auto it = std::find(items.begin(), items.end(), item);
                if (c.config_operation == kAppend && it == items.end()) items.push_back(item);
                if (c.config_operation == kSubtract && it != items.end()) items.erase(it);
              }
              std::string joined = absl::StrJoin(items, ",");
              if (auto f = CheckTopicValue(c.name, joined)) return f;
              next[c.name] = joined;
              break;
            }
            default:
              return Failure{
                  ErrorCode::kInvalidRequest,
                  absl::StrCat("Unknown config operation ", c.config_operation, " for ", c.name)};
          }
        }
        return std::nullopt;
      },
      [&s, &request](const Resource& res) {
        std::vector<std::string> names;
        std::vector<std::optional<std::string>> values;
        for (const auto& c : res.configs) {
          names.push_back(c.name);
          values.push_back(c.config_operation == kDelete ? std::nullopt : c.value);
        }
        return CheckBrokerChange(s, res.resource_name, names, values, request.validate_only);
      });
}

}  // namespace fjord::controller
