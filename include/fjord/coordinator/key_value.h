#pragma once
// One record of a coordinator's internal topic: key and value bytes in Kafka's format.

#include <cstdint>
#include <optional>
#include <vector>

namespace fjord::coordinator {

struct KeyValue {
  std::vector<uint8_t> key;
  std::optional<std::vector<uint8_t>> value;  // nullopt: a tombstone
};

}  // namespace fjord::coordinator
