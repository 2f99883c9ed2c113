#pragma once
// Kafka's topic-name rules, shared by the controller and the request handlers.

#include <string>
#include <string_view>

#include "absl/status/status.h"

namespace fjord::controller {

// Kafka's internal topics: clients see them flagged is_internal and cannot auto-create them.
inline bool IsInternalTopic(std::string_view name) {
  return name == "__consumer_offsets" || name == "__transaction_state";
}

// Kafka's rules (Topic.validate): 1..249 characters of [a-zA-Z0-9._-], not "." or "..".
inline absl::Status ValidateTopicName(std::string_view name) {
  if (name.empty()) return absl::InvalidArgumentError("Topic name is illegal, it can't be empty");
  if (name == "." || name == "..") {
    return absl::InvalidArgumentError("Topic name cannot be \".\" or \"..\"");
  }
  if (name.size() > 249) {
    return absl::InvalidArgumentError(
        "Topic name is illegal, it can't be longer than 249 characters");
  }
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-';
    if (!ok) {
      return absl::InvalidArgumentError(
          "Topic name is illegal, it contains a character other than ASCII alphanumerics, '.', "
          "'_' and '-'");
    }
  }
  return absl::OkStatus();
}

// Two names collide when they differ only in '.' versus '_' (metric names cannot tell them
// apart); Kafka refuses the second one.
inline std::string CollisionKey(std::string_view name) {
  std::string key(name);
  for (char& c : key) {
    if (c == '.') c = '_';
  }
  return key;
}

}  // namespace fjord::controller
