#pragma once
// The records of the metadata log, modelled on KRaft's, and their framing: an unsigned
// varint frame version (1), the record type, the record version, then the body.

#include <cstdint>
#include <span>
#include <string_view>
#include <variant>
#include <vector>

#include "absl/status/statusor.h"
#include "fjord/protocol/metadata/broker_registration_change_record.h"
#include "fjord/protocol/metadata/config_record.h"
#include "fjord/protocol/metadata/feature_level_record.h"
#include "fjord/protocol/metadata/fence_broker_record.h"
#include "fjord/protocol/metadata/no_op_record.h"
#include "fjord/protocol/metadata/partition_change_record.h"
#include "fjord/protocol/metadata/partition_record.h"
#include "fjord/protocol/metadata/producer_ids_record.h"
#include "fjord/protocol/metadata/register_broker_record.h"
#include "fjord/protocol/metadata/remove_topic_record.h"
#include "fjord/protocol/metadata/topic_record.h"
#include "fjord/protocol/metadata/unfence_broker_record.h"
#include "fjord/protocol/metadata/unregister_broker_record.h"

namespace fjord::metadata {

using MetadataRecord =
    std::variant<protocol::metadata::RegisterBrokerRecord,
                 protocol::metadata::UnregisterBrokerRecord, protocol::metadata::TopicRecord,
                 protocol::metadata::PartitionRecord, protocol::metadata::ConfigRecord,
                 protocol::metadata::PartitionChangeRecord, protocol::metadata::FenceBrokerRecord,
                 protocol::metadata::UnfenceBrokerRecord, protocol::metadata::RemoveTopicRecord,
                 protocol::metadata::FeatureLevelRecord, protocol::metadata::ProducerIdsRecord,
                 protocol::metadata::BrokerRegistrationChangeRecord,
                 protocol::metadata::NoOpRecord>;

// Frames the record at its highest version.
std::vector<uint8_t> EncodeMetadataRecord(const MetadataRecord& record);
// An unknown frame version, type or record version, a malformed body or trailing bytes →
// InvalidArgument naming what was wrong.
absl::StatusOr<MetadataRecord> DecodeMetadataRecord(std::span<const uint8_t> value);
std::string_view RecordName(const MetadataRecord& record);

}  // namespace fjord::metadata
