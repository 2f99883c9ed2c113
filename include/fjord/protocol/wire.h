#pragma once
// The primitive encodings of the Kafka protocol, used by the generated message code.
//
// Reader decodes from a bounded byte span. It never reads past the end and never
// allocates more than the remaining input can justify: every length and array count is
// checked against the bytes left before anything is allocated. The first failure is
// recorded (what and where) and every later read returns a zero value, so generated
// decoders check ok() only at loop and struct boundaries.
//
// Writer encodes into a buffer sized beforehand with the messages' EncodedSize(); it
// checks its bound and records overflow instead of writing past it.
//
// Both are plain values owned by the caller's stack; they touch no shared state.

#include <array>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "fjord/base/varint.h"

namespace fjord::protocol {

// A Kafka UUID (topic ids, directory ids): 16 raw bytes; all zero means "no id".
struct Uuid {
  std::array<uint8_t, 16> bytes{};
  bool IsZero() const;
  // Kafka's text form: URL-safe base64 without padding (22 characters).
  std::string ToString() const;
  bool operator==(const Uuid&) const = default;
};

// The `records` field of Produce and Fetch: a view of record batches that the message
// does not own. On decode it points into the frame, so the frame must outlive it; on
// encode the caller keeps the bytes alive until the message is written.
//
// Spliced records (encode only): when `splice` >= 0 the bytes are not in memory but will be
// sent from elsewhere (a segment file, with sendfile). The Writer writes the length prefix
// for `splice_length` bytes, notes where the bytes belong (Writer::splices()), and leaves
// them out of its buffer.
struct RecordsView {
  std::span<const uint8_t> bytes;
  bool is_null = true;
  int32_t splice = -1;
  uint64_t splice_length = 0;

  static RecordsView Of(std::span<const uint8_t> b) { return RecordsView{b, false}; }
  static RecordsView Spliced(int32_t id, uint64_t length) {
    return RecordsView{{}, false, id, length};
  }
  size_t size() const { return splice >= 0 ? splice_length : bytes.size(); }
  // Equal when both are null, or both hold the same bytes (not the same address).
  bool operator==(const RecordsView& o) const;
};

// A tagged field this build does not know. Kept so that a message decoded and encoded
// again carries it unchanged.
struct RawTaggedField {
  uint32_t tag = 0;
  std::vector<uint8_t> data;
  bool operator==(const RawTaggedField&) const = default;
};
using UnknownTaggedFields = std::vector<RawTaggedField>;

class Reader {
 public:
  explicit Reader(std::span<const uint8_t> in)
      : p_(in.data()), begin_(in.data()), end_(in.data() + in.size()) {}

  bool ok() const { return error_ == nullptr; }
  // What failed and the byte position (relative to this reader's start), or "".
  const char* error() const { return error_ ? error_ : ""; }
  size_t error_position() const { return error_pos_; }
  size_t position() const { return static_cast<size_t>(p_ - begin_); }
  size_t remaining() const { return static_cast<size_t>(end_ - p_); }
  absl::Status status() const;

  // Records the first failure and stops all further reads.
  void Fail(const char* what);

  bool ReadBool() { return ReadFixed<uint8_t>() != 0; }
  int8_t ReadInt8() { return static_cast<int8_t>(ReadFixed<uint8_t>()); }
  int16_t ReadInt16() { return static_cast<int16_t>(ReadFixed<uint16_t>()); }
  int32_t ReadInt32() { return static_cast<int32_t>(ReadFixed<uint32_t>()); }
  int64_t ReadInt64() { return static_cast<int64_t>(ReadFixed<uint64_t>()); }
  uint16_t ReadUint16() { return ReadFixed<uint16_t>(); }
  uint32_t ReadUint32() { return ReadFixed<uint32_t>(); }
  double ReadFloat64();
  Uuid ReadUuid();
  uint32_t ReadUnsignedVarint();

  void ReadString(std::string* out, bool flexible);
  // `nullable` says whether null is legal in the version being read.
  void ReadNullableString(std::optional<std::string>* out, bool flexible, bool nullable);
  void ReadBytes(std::vector<uint8_t>* out, bool flexible);
  void ReadNullableBytes(std::optional<std::vector<uint8_t>>* out, bool flexible, bool nullable);
  void ReadRecords(RecordsView* out, bool flexible, bool nullable);

  // Reads an array count; -1 means null. Fails when the count could not fit in the bytes
  // left at `min_element_size` bytes an element (at least 1 is assumed), so a decoder may
  // size its vector with the result.
  int32_t ReadArrayLength(bool flexible, size_t min_element_size);

  // Takes the next n bytes as a reader of their own (a tagged field's value).
  Reader Split(size_t n);
  // Propagates a failure of a split reader, and fails if it left bytes unread.
  void Join(const Reader& sub, const char* what);

  // Stores the value of a tagged field this build does not know.
  void ReadUnknownTag(uint32_t tag, uint32_t size, UnknownTaggedFields* out);

 private:
  template <typename T>
  T ReadFixed() {
    if (remaining() < sizeof(T)) {
      Fail("truncated input");
      return 0;
    }
    T v;
    std::memcpy(&v, p_, sizeof(T));
    p_ += sizeof(T);
    if constexpr (sizeof(T) == 2) v = __builtin_bswap16(v);
    if constexpr (sizeof(T) == 4) v = __builtin_bswap32(v);
    if constexpr (sizeof(T) == 8) v = __builtin_bswap64(v);
    return v;
  }
  // Reads a string/bytes length; -1 = null. Fails when it exceeds the bytes left.
  int32_t ReadLength(bool flexible, bool wide);
  const uint8_t* Take(size_t n);

  const uint8_t* p_;
  const uint8_t* begin_;
  const uint8_t* end_;
  const char* error_ = nullptr;
  size_t error_pos_ = 0;
};

class Writer {
 public:
  Writer(uint8_t* out, size_t capacity) : p_(out), begin_(out), end_(out + capacity) {}
  explicit Writer(std::span<uint8_t> out) : Writer(out.data(), out.size()) {}

  bool ok() const { return !overflow_; }
  size_t position() const { return static_cast<size_t>(p_ - begin_); }

  void WriteBool(bool v) { WriteFixed<uint8_t>(v ? 1 : 0); }
  void WriteInt8(int8_t v) { WriteFixed<uint8_t>(static_cast<uint8_t>(v)); }
  void WriteInt16(int16_t v) { WriteFixed<uint16_t>(static_cast<uint16_t>(v)); }
  void WriteInt32(int32_t v) { WriteFixed<uint32_t>(static_cast<uint32_t>(v)); }
  void WriteInt64(int64_t v) { WriteFixed<uint64_t>(static_cast<uint64_t>(v)); }
  void WriteUint16(uint16_t v) { WriteFixed<uint16_t>(v); }
  void WriteUint32(uint32_t v) { WriteFixed<uint32_t>(v); }
  void WriteFloat64(double v);
  void WriteUuid(const Uuid& v) { WriteRaw(v.bytes.data(), v.bytes.size()); }
  void WriteUnsignedVarint(uint32_t v);

  void WriteString(std::string_view s, bool flexible);
  void WriteNullableString(const std::optional<std::string>& s, bool flexible);
  void WriteBytes(std::span<const uint8_t> b, bool flexible);
  void WriteNullableBytes(const std::optional<std::vector<uint8_t>>& b, bool flexible);
  void WriteRecords(const RecordsView& r, bool flexible);
  // count -1 writes a null array.
  void WriteArrayLength(int32_t count, bool flexible);
  void WriteRaw(const void* data, size_t n);

  // Unknown tagged fields are written among the known ones in ascending tag order:
  // WriteUnknownTagsBelow writes those with a tag below `tag`, starting at index `next`,
  // and returns the index of the first one not written.
  size_t WriteUnknownTagsBelow(const UnknownTaggedFields& f, size_t next, uint32_t tag);
  // Writes every unknown tag from f[next] on, whatever its number (the last of the tags,
  // after the known ones; a tag of UINT32_MAX is one too).
  void WriteUnknownTagsFrom(const UnknownTaggedFields& f, size_t next);
  void WriteUnknownTag(const RawTaggedField& t);

  // A spliced RecordsView written at `position`: its bytes go there, in the order listed.
  struct Splice {
    size_t position;
    int32_t id;
  };
  const std::vector<Splice>& splices() const { return splices_; }

 private:
  template <typename T>
  void WriteFixed(T v) {
    if constexpr (sizeof(T) == 2) v = __builtin_bswap16(v);
    if constexpr (sizeof(T) == 4) v = __builtin_bswap32(v);
    if constexpr (sizeof(T) == 8) v = __builtin_bswap64(v);
    WriteRaw(&v, sizeof(T));
  }

  uint8_t* p_;
  uint8_t* begin_;
  uint8_t* end_;
  bool overflow_ = false;
  std::vector<Splice> splices_;
};

// Encoded sizes of the variable-length primitives.
inline size_t VarintSize(uint32_t v) { return varint::UnsignedSize(v); }
inline size_t LengthPrefixSize(size_t len, bool flexible, bool wide) {
  return flexible ? VarintSize(static_cast<uint32_t>(len + 1)) : (wide ? 4 : 2);
}
inline size_t StringSize(std::string_view s, bool flexible) {
  return LengthPrefixSize(s.size(), flexible, false) + s.size();
}
inline size_t NullableStringSize(const std::optional<std::string>& s, bool flexible) {
  return s ? StringSize(*s, flexible) : (flexible ? 1 : 2);
}
inline size_t BytesSize(std::span<const uint8_t> b, bool flexible) {
  return LengthPrefixSize(b.size(), flexible, true) + b.size();
}
inline size_t NullableBytesSize(const std::optional<std::vector<uint8_t>>& b, bool flexible) {
  return b ? BytesSize(*b, flexible) : (flexible ? 1 : 4);
}
inline size_t RecordsSize(const RecordsView& r, bool flexible) {
  if (r.is_null) return flexible ? 1 : 4;
  return LengthPrefixSize(r.size(), flexible, true) + r.size();
}
inline size_t ArrayLengthSize(size_t count, bool flexible) {
  return flexible ? VarintSize(static_cast<uint32_t>(count + 1)) : 4;
}
size_t UnknownTagsSize(const UnknownTaggedFields& f);
// Unknown tags numbered like a field the encoding version knows (kept from a decode at an
// older version, where that number meant nothing) are not written again: the known field
// owns the number. Returns `f` itself when none clashes (the usual case, no copy), else
// `*scratch` filled with the others.
const UnknownTaggedFields& WithoutTags(const UnknownTaggedFields& f, const uint32_t* known,
                                       size_t known_count, UnknownTaggedFields* scratch);

// Decodes a whole message body at `version`. Fails with InvalidArgument naming the
// message, the problem and the byte position; with OutOfRange for a version the message
// does not have. Bytes after the message are left unread (the caller decides).
template <typename Message>
absl::Status DecodeMessage(std::span<const uint8_t> body, int16_t version, Message* out,
                           size_t* consumed = nullptr) {
  if (version < Message::kMinVersion || version > Message::kMaxVersion) {
    return absl::OutOfRangeError(std::string(Message::kName) + ": unsupported version " +
                                 std::to_string(version));
  }
  Reader r(body);
  out->Decode(r, version);
  if (consumed != nullptr) *consumed = r.position();
  if (!r.ok()) {
    return absl::InvalidArgumentError(std::string(Message::kName) + " v" + std::to_string(version) +
                                      ": " + r.error() + " at byte " +
                                      std::to_string(r.error_position()));
  }
  return absl::OkStatus();
}

// Appends the encoding of `m` at `version` to `out`.
template <typename Message>
void EncodeMessage(const Message& m, int16_t version, std::vector<uint8_t>* out) {
  size_t start = out->size();
  size_t n = m.EncodedSize(version);
  out->resize(start + n);
  Writer w(out->data() + start, n);
  m.Encode(w, version);
}

template <typename Message>
std::vector<uint8_t> EncodeMessage(const Message& m, int16_t version) {
  std::vector<uint8_t> out;
  EncodeMessage(m, version, &out);
  return out;
}

}  // namespace fjord::protocol
