#pragma once
// Coordinator records in Kafka's key/value format: a key or value is an int16 version
// followed by the message of that version. Private to coordinator/.

#include <cstdint>
#include <span>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "fjord/protocol/wire.h"

namespace fjord::coordinator {

template <typename Message>
std::vector<uint8_t> VersionedRecord(int16_t version, const Message& m) {
  std::vector<uint8_t> out = {static_cast<uint8_t>(version >> 8),
                              static_cast<uint8_t>(version & 0xff)};
  protocol::EncodeMessage(m, version, &out);
  return out;
}

// The int16 version in front of a key or value; `bytes` is left at the rest. Errors name
// the topic and what was read ("key", "value").
inline absl::StatusOr<int16_t> SplitRecordVersion(std::span<const uint8_t>* bytes,
                                                  const char* topic, const char* what) {
  if (bytes->size() < 2) {
    return absl::DataLossError(
        absl::StrCat(topic, " ", what, " of ", bytes->size(), " bytes has no version"));
  }
  auto v = static_cast<int16_t>((static_cast<uint16_t>((*bytes)[0]) << 8) | (*bytes)[1]);
  *bytes = bytes->subspan(2);
  return v;
}

template <typename Message>
absl::Status DecodeRecordVersion(std::span<const uint8_t> bytes, int16_t version, Message* m,
                                 const char* topic, const char* what) {
  if (version < Message::kMinVersion || version > Message::kMaxVersion) {
    return absl::DataLossError(absl::StrCat(topic, " ", what, " has unknown version ", version));
  }
  size_t consumed = 0;
  absl::Status s = protocol::DecodeMessage(bytes, version, m, &consumed);
  if (!s.ok()) return absl::DataLossError(absl::StrCat(topic, " ", what, ": ", s.message()));
  return absl::OkStatus();
}

}  // namespace fjord::coordinator
