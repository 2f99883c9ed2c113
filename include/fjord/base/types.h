#pragma once
// The strong types of Kafka's quantities that are easy to mix up (style.md). The protocol
// generator applies them to message fields through its override table.

#include <cstdint>

#include "fjord/base/named_type.h"

namespace fjord {

using Offset = NamedType<int64_t, struct OffsetTag>;
using LeaderEpoch = NamedType<int32_t, struct LeaderEpochTag>;
using ProducerId = NamedType<int64_t, struct ProducerIdTag>;
using ProducerEpoch = NamedType<int16_t, struct ProducerEpochTag>;
using NodeId = NamedType<int32_t, struct NodeIdTag>;
using PartitionId = NamedType<int32_t, struct PartitionIdTag>;

}  // namespace fjord
