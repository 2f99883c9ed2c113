#include "fjord/metadata/metadata_record.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "fjord/base/varint.h"
#include "fjord/protocol/wire.h"

namespace fjord::metadata {

namespace {

constexpr uint32_t kFrameVersion = 1;

// Decodes the body as the variant alternative whose kRecordType is `type`.
template <size_t I = 0>
absl::StatusOr<MetadataRecord> DecodeAs(uint32_t type, uint32_t version,
                                        std::span<const uint8_t> body) {
  if constexpr (I == std::variant_size_v<MetadataRecord>) {
    return absl::InvalidArgumentError(absl::StrCat("unknown metadata record type ", type));
  } else {
    using R = std::variant_alternative_t<I, MetadataRecord>;
    if (static_cast<uint32_t>(R::kRecordType) != type) return DecodeAs<I + 1>(type, version, body);
    if (version > static_cast<uint32_t>(R::kMaxVersion)) {
      return absl::InvalidArgumentError(
          absl::StrCat(R::kName, ": unknown record version ", version));
    }
    R r;
    size_t consumed = 0;
    if (absl::Status s =
            protocol::DecodeMessage(body, static_cast<int16_t>(version), &r, &consumed);
        !s.ok()) {
      return s;
    }
    if (consumed != body.size()) {
      return absl::InvalidArgumentError(
          absl::StrCat(R::kName, ": ", body.size() - consumed, " bytes after the record"));
    }
    return MetadataRecord(std::move(r));
  }
}

}  // namespace

std::vector<uint8_t> EncodeMetadataRecord(const MetadataRecord& record) {
  return std::visit(
      [](const auto& r) {
        using R = std::decay_t<decltype(r)>;
        std::vector<uint8_t> out(3 * varint::kMaxVarint32Bytes);
        size_t n = varint::PutUnsigned(out.data(), kFrameVersion);
        n += varint::PutUnsigned(out.data() + n, static_cast<uint32_t>(R::kRecordType));
        n += varint::PutUnsigned(out.data() + n, static_cast<uint32_t>(R::kMaxVersion));
        out.resize(n);
        protocol::EncodeMessage(r, R::kMaxVersion, &out);
        return out;
      },
      record);
}

absl::StatusOr<MetadataRecord> DecodeMetadataRecord(std::span<const uint8_t> value) {
  protocol::Reader reader(value);
  const uint32_t frame = reader.ReadUnsignedVarint();
  const uint32_t type = reader.ReadUnsignedVarint();
  const uint32_t version = reader.ReadUnsignedVarint();
  if (!reader.ok()) {
    return absl::InvalidArgumentError("metadata record: truncated frame header");
  }
  if (frame != kFrameVersion) {
    return absl::InvalidArgumentError(
        absl::StrCat("metadata record: unknown frame version ", frame));
  }
  return DecodeAs(type, version, value.subspan(reader.position()));
}

std::string_view RecordName(const MetadataRecord& record) {
  return std::visit(
      [](const auto& r) -> std::string_view { return std::decay_t<decltype(r)>::kName; }, record);
}

}  // namespace fjord::metadata
