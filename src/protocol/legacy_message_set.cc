#include "fjord/protocol/legacy_message_set.h"

#include <zlib.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "fjord/base/endian.h"

namespace fjord::protocol {
namespace {

constexpr size_t kEntryOverhead = 12;  // offset + message_size
constexpr size_t kMagicAt = 16;        // offset, size, crc, then magic

enum class Entry { kOk, kPartial };

// An int32-length-prefixed byte string at m[*p..end): -1 is null.
absl::Status ReadBytes(std::span<const uint8_t> m, size_t* p, absl::string_view what,
                       std::optional<std::span<const uint8_t>>* out) {
  if (m.size() - *p < 4) return absl::DataLossError(absl::StrCat("message ends in its ", what));
  int32_t len = static_cast<int32_t>(be::Load32(m.data() + *p));
  *p += 4;
  if (len < -1 || (len >= 0 && static_cast<size_t>(len) > m.size() - *p)) {
    return absl::DataLossError(absl::StrCat(what, " length ", len, " does not fit in the message"));
  }
  if (len < 0) {
    out->reset();
  } else {
    *out = m.subspan(*p, static_cast<size_t>(len));
    *p += static_cast<size_t>(len);
  }
  return absl::OkStatus();
}

// Parses the entry at data[pos..]. A truncated entry is kPartial when allow_partial,
// else an error. On kOk, *msg is the message and *size the bytes of the entry.
absl::StatusOr<Entry> ParseEntry(std::span<const uint8_t> data, size_t pos,
                                 const LegacyValidation& v, bool allow_partial, LegacyMessage* msg,
                                 size_t* size) {
  size_t left = data.size() - pos;
  const uint8_t* e = data.data() + pos;
  auto truncated = [&]() -> absl::StatusOr<Entry> {
    if (allow_partial) return Entry::kPartial;
    return absl::DataLossError(absl::StrCat("truncated message at byte ", pos));
  };
  if (left < kEntryOverhead) return truncated();
  int32_t msize = static_cast<int32_t>(be::Load32(e + 8));
  if (msize < static_cast<int32_t>(kLegacyMinMessageSizeV0)) {
    return absl::DataLossError(absl::StrCat("message size ", msize, " below the minimum ",
                                            kLegacyMinMessageSizeV0, " at byte ", pos));
  }
  size_t total = kEntryOverhead + static_cast<size_t>(msize);
  if (total > v.max_message_size) {
    return absl::ResourceExhaustedError(absl::StrCat("message of ", total,
                                                     " bytes exceeds the limit of ",
                                                     v.max_message_size, " at byte ", pos));
  }
  if (left > kMagicAt) {
    int8_t magic = static_cast<int8_t>(e[kMagicAt]);
    if (magic == kMagicV2) {
      return absl::UnimplementedError(
          absl::StrCat("a v2 record batch in a magic 0/1 message set at byte ", pos));
    }
    if (magic != 0 && magic != 1) {
      return absl::DataLossError(absl::StrCat("invalid magic ", magic, " at byte ", pos));
    }
  }
  if (total > left) return truncated();
  std::span<const uint8_t> m(e + kEntryOverhead, static_cast<size_t>(msize));
  LegacyMessage& out = *msg;
  out = LegacyMessage{};
  out.offset = Offset(static_cast<int64_t>(be::Load64(e)));
  out.crc = be::Load32(m.data());
  out.magic = static_cast<int8_t>(m[4]);
  out.attributes = static_cast<int8_t>(m[5]);
  if (out.magic == 1 && m.size() < kLegacyMinMessageSizeV1) {
    return absl::DataLossError(absl::StrCat("magic 1 message size ", msize, " below the minimum ",
                                            kLegacyMinMessageSizeV1, " at byte ", pos));
  }
  if (v.verify_crc) {
    uint32_t crc = static_cast<uint32_t>(crc32(0, m.data() + 4, static_cast<uInt>(m.size() - 4)));
    if (crc != out.crc) {
      return absl::DataLossError(absl::StrCat("CRC mismatch: the message says 0x",
                                              absl::Hex(out.crc), ", its bytes give 0x",
                                              absl::Hex(crc), " at byte ", pos));
    }
  }
  size_t p = 6;
  if (out.magic == 1) {
    out.timestamp = static_cast<int64_t>(be::Load64(m.data() + p));
    out.timestamp_type =
        (out.attributes & 0x08) ? TimestampType::kLogAppendTime : TimestampType::kCreateTime;
    p += 8;
  }
  if (absl::Status s = ReadBytes(m, &p, "key", &out.key); !s.ok()) {
    return absl::Status(s.code(), absl::StrCat(s.message(), " at byte ", pos));
  }
  if (absl::Status s = ReadBytes(m, &p, "value", &out.value); !s.ok()) {
    return absl::Status(s.code(), absl::StrCat(s.message(), " at byte ", pos));
  }
  if (p != m.size()) {
    return absl::DataLossError(absl::StrCat("message size ", msize, " leaves ", m.size() - p,
                                            " bytes unread at byte ", pos));
  }
  // Magic 0/1 know gzip, snappy and lz4 only (zstd came with magic 2, KIP-110).
  if ((out.attributes & 0x07) > static_cast<int>(Compression::kLz4)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "codec ", out.attributes & 0x07, " is not valid for magic ", out.magic, " at byte ", pos));
  }
  *size = total;
  return Entry::kOk;
}

}  // namespace

bool LegacyMessageSetIterator::Fail(absl::Status s) {
  status_ = std::move(s);
  done_ = true;
  return false;
}

bool LegacyMessageSetIterator::ExpandWrapper(const LegacyMessage& wrapper, size_t position) {
  auto fail = [&](absl::StatusCode code, absl::string_view what) {
    return Fail(absl::Status(code, absl::StrCat(what, " (wrapper at byte ", position, ")")));
  };
  if (!wrapper.value)
    return fail(absl::StatusCode::kDataLoss, "compressed wrapper with null value");
  absl::Status s =
      wrapper.magic == 0 && wrapper.compression() == Compression::kLz4
          // Kafka < 0.10 wrote the lz4 header checksum over the wrong bytes (KAFKA-3160).
          ? DecompressLz4IgnoringHeaderChecksum(*wrapper.value, validation_.max_decompressed_size,
                                                &inner_buffer_)
          : Decompress(wrapper.compression(), *wrapper.value, validation_.max_decompressed_size,
                       &inner_buffer_);
  if (!s.ok()) return fail(s.code(), s.message());
  inner_.clear();
  inner_next_ = 0;
  size_t pos = 0;
  while (pos < inner_buffer_.size()) {
    LegacyMessage m;
    size_t size = 0;
    absl::StatusOr<Entry> e =
        ParseEntry(inner_buffer_, pos, validation_, /*allow_partial=*/false, &m, &size);
    if (!e.ok()) return fail(e.status().code(), absl::StrCat("inner ", e.status().message()));
    if (m.compression() != Compression::kNone) {
      return fail(absl::StatusCode::kInvalidArgument, "compressed message inside a compressed one");
    }
    if (m.magic != wrapper.magic) {
      return fail(
          absl::StatusCode::kInvalidArgument,
          absl::StrCat("inner magic ", m.magic, " differs from the wrapper's ", wrapper.magic));
    }
    m.inner = true;
    inner_.push_back(m);
    pos += size;
  }
  if (inner_.empty()) return fail(absl::StatusCode::kInvalidArgument, "wrapper with no messages");
  if (wrapper.magic == 1) {
    // KIP-31: inner offsets are relative; the wrapper has the last one's absolute offset.
    int64_t base = RecordBatchHeader::WrapAdd(wrapper.offset.value, -inner_.back().offset.value);
    for (LegacyMessage& m : inner_) {
      m.offset = Offset(RecordBatchHeader::WrapAdd(base, m.offset.value));
      if (wrapper.timestamp_type == TimestampType::kLogAppendTime) {
        m.timestamp = wrapper.timestamp;
        m.timestamp_type = TimestampType::kLogAppendTime;
      }
    }
  }
  return true;
}

bool LegacyMessageSetIterator::Next() {
  while (true) {
    if (inner_next_ < inner_.size()) {
      message_ = inner_[inner_next_++];
      return true;
    }
    if (done_) return false;
    if (pos_ == data_.size()) {
      done_ = true;
      return false;
    }
    LegacyMessage m;
    size_t size = 0;
    absl::StatusOr<Entry> e =
        ParseEntry(data_, pos_, validation_, /*allow_partial=*/true, &m, &size);
    if (!e.ok()) return Fail(e.status());
    if (*e == Entry::kPartial) {
      partial_tail_ = true;
      done_ = true;
      return false;
    }
    size_t at = pos_;
    pos_ += size;
    if (m.compression() == Compression::kNone) {
      message_ = m;
      return true;
    }
    if (!ExpandWrapper(m, at)) return false;
  }
}

}  // namespace fjord::protocol
