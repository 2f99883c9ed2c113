#include "fjord/protocol/wire.h"

#include <algorithm>
#include <bit>

namespace fjord::protocol {

bool Uuid::IsZero() const {
  return std::all_of(bytes.begin(), bytes.end(), [](uint8_t b) { return b == 0; });
}

std::string Uuid::ToString() const {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  out.reserve(22);
  uint32_t acc = 0;
  int bits = 0;
  for (uint8_t b : bytes) {
    acc = (acc << 8) | b;
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out.push_back(kAlphabet[(acc >> bits) & 0x3F]);
    }
  }
  if (bits > 0) out.push_back(kAlphabet[(acc << (6 - bits)) & 0x3F]);
  return out;
}

bool RecordsView::operator==(const RecordsView& o) const {
  if (is_null || o.is_null) return is_null == o.is_null;
  return std::equal(bytes.begin(), bytes.end(), o.bytes.begin(), o.bytes.end());
}

absl::Status Reader::status() const {
  if (ok()) return absl::OkStatus();
  return absl::InvalidArgumentError(std::string(error_) + " at byte " + std::to_string(error_pos_));
}

void Reader::Fail(const char* what) {
  if (error_ != nullptr) return;
  error_ = what;
  error_pos_ = position();
  p_ = end_;  // Nothing more is read once the input is known to be bad.
}

const uint8_t* Reader::Take(size_t n) {
  if (remaining() < n) {
    Fail("truncated input");
    return nullptr;
  }
  const uint8_t* at = p_;
  p_ += n;
  return at;
}

double Reader::ReadFloat64() { return std::bit_cast<double>(ReadFixed<uint64_t>()); }

Uuid Reader::ReadUuid() {
  Uuid u;
  if (const uint8_t* at = Take(16)) std::memcpy(u.bytes.data(), at, 16);
  return u;
}

uint32_t Reader::ReadUnsignedVarint() {
  if (!ok()) return 0;
  uint32_t v = 0;
  size_t n = varint::GetUnsigned32(p_, end_, &v);
  if (n == 0) {
    Fail(remaining() < varint::kMaxVarint32Bytes ? "truncated varint" : "malformed varint");
    return 0;
  }
  p_ += n;
  return v;
}

int32_t Reader::ReadLength(bool flexible, bool wide) {
  int64_t len;
  if (flexible) {
    len = static_cast<int64_t>(ReadUnsignedVarint()) - 1;
  } else {
    len = wide ? ReadInt32() : ReadInt16();
  }
  if (!ok()) return -1;
  if (len < -1) {
    Fail("negative length");
    return -1;
  }
  if (len > static_cast<int64_t>(remaining())) {
    Fail("length exceeds the remaining input");
    return -1;
  }
  return static_cast<int32_t>(len);
}

void Reader::ReadString(std::string* out, bool flexible) {
  int32_t len = ReadLength(flexible, false);
  if (len < 0) {
    if (ok()) Fail("null in a non-nullable string");
    return;
  }
  const uint8_t* at = Take(static_cast<size_t>(len));
  if (at != nullptr) out->assign(reinterpret_cast<const char*>(at), static_cast<size_t>(len));
}

void Reader::ReadNullableString(std::optional<std::string>* out, bool flexible, bool nullable) {
  int32_t len = ReadLength(flexible, false);
  if (!ok()) return;
  if (len < 0) {
    if (!nullable) Fail("null in a non-nullable string");
    out->reset();
    return;
  }
  const uint8_t* at = Take(static_cast<size_t>(len));
  out->emplace(reinterpret_cast<const char*>(at), static_cast<size_t>(len));
}

void Reader::ReadBytes(std::vector<uint8_t>* out, bool flexible) {
  int32_t len = ReadLength(flexible, true);
  if (len < 0) {
    if (ok()) Fail("null in non-nullable bytes");
    return;
  }
  const uint8_t* at = Take(static_cast<size_t>(len));
  if (at != nullptr) out->assign(at, at + len);
}

void Reader::ReadNullableBytes(std::optional<std::vector<uint8_t>>* out, bool flexible,
                               bool nullable) {
  int32_t len = ReadLength(flexible, true);
  if (!ok()) return;
  if (len < 0) {
    if (!nullable) Fail("null in non-nullable bytes");
    out->reset();
    return;
  }
  const uint8_t* at = Take(static_cast<size_t>(len));
  out->emplace(at, at + len);
}

void Reader::ReadRecords(RecordsView* out, bool flexible, bool nullable) {
  int32_t len = ReadLength(flexible, true);
  if (!ok()) return;
  if (len < 0) {
    if (!nullable) Fail("null in non-nullable records");
    *out = RecordsView{};
    return;
  }
  const uint8_t* at = Take(static_cast<size_t>(len));
  *out = RecordsView::Of(std::span<const uint8_t>(at, static_cast<size_t>(len)));
}

int32_t Reader::ReadArrayLength(bool flexible, size_t min_element_size) {
  int64_t count = flexible ? static_cast<int64_t>(ReadUnsignedVarint()) - 1 : ReadInt32();
  if (!ok()) return -1;
  if (count < -1) {
    Fail("negative array length");
    return -1;
  }
  if (count > 0 &&
      static_cast<uint64_t>(count) > remaining() / std::max<size_t>(min_element_size, 1)) {
    Fail("array length exceeds the remaining input");
    return -1;
  }
  return static_cast<int32_t>(count);
}

Reader Reader::Split(size_t n) {
  const uint8_t* at = Take(n);
  if (at == nullptr) {
    Reader empty(std::span<const uint8_t>{});
    empty.Fail("truncated input");
    return empty;
  }
  return Reader(std::span<const uint8_t>(at, n));
}

void Reader::Join(const Reader& sub, const char* what) {
  if (!ok()) return;
  if (!sub.ok()) {
    Fail(sub.error());
  } else if (sub.remaining() != 0) {
    Fail(what);
  }
}

void Reader::ReadUnknownTag(uint32_t tag, uint32_t size, UnknownTaggedFields* out) {
  const uint8_t* at = Take(size);
  if (at == nullptr) return;
  out->push_back(RawTaggedField{tag, std::vector<uint8_t>(at, at + size)});
}

void Writer::WriteRaw(const void* data, size_t n) {
  if (overflow_ || static_cast<size_t>(end_ - p_) < n) {
    overflow_ = true;
    return;
  }
  if (n != 0) std::memcpy(p_, data, n);
  p_ += n;
}

void Writer::WriteFloat64(double v) { WriteFixed<uint64_t>(std::bit_cast<uint64_t>(v)); }

void Writer::WriteUnsignedVarint(uint32_t v) {
  uint8_t buf[varint::kMaxVarint32Bytes];
  WriteRaw(buf, varint::PutUnsigned(buf, v));
}

void Writer::WriteString(std::string_view s, bool flexible) {
  if (flexible) {
    WriteUnsignedVarint(static_cast<uint32_t>(s.size() + 1));
  } else {
    WriteInt16(static_cast<int16_t>(s.size()));
  }
  WriteRaw(s.data(), s.size());
}

void Writer::WriteNullableString(const std::optional<std::string>& s, bool flexible) {
  if (s) {
    WriteString(*s, flexible);
  } else if (flexible) {
    WriteUnsignedVarint(0);
  } else {
    WriteInt16(-1);
  }
}

void Writer::WriteBytes(std::span<const uint8_t> b, bool flexible) {
  if (flexible) {
    WriteUnsignedVarint(static_cast<uint32_t>(b.size() + 1));
  } else {
    WriteInt32(static_cast<int32_t>(b.size()));
  }
  WriteRaw(b.data(), b.size());
}

void Writer::WriteNullableBytes(const std::optional<std::vector<uint8_t>>& b, bool flexible) {
  if (b) {
    WriteBytes(*b, flexible);
  } else if (flexible) {
    WriteUnsignedVarint(0);
  } else {
    WriteInt32(-1);
  }
}

void Writer::WriteRecords(const RecordsView& r, bool flexible) {
  if (!r.is_null && r.splice >= 0) {
    if (flexible) {
      WriteUnsignedVarint(static_cast<uint32_t>(r.splice_length + 1));
    } else {
      WriteInt32(static_cast<int32_t>(r.splice_length));
    }
    splices_.push_back(Splice{position(), r.splice});
  } else if (!r.is_null) {
    WriteBytes(r.bytes, flexible);
  } else if (flexible) {
    WriteUnsignedVarint(0);
  } else {
    WriteInt32(-1);
  }
}

void Writer::WriteArrayLength(int32_t count, bool flexible) {
  if (flexible) {
    WriteUnsignedVarint(static_cast<uint32_t>(count + 1));
  } else {
    WriteInt32(count);
  }
}

void Writer::WriteUnknownTag(const RawTaggedField& t) {
  WriteUnsignedVarint(t.tag);
  WriteUnsignedVarint(static_cast<uint32_t>(t.data.size()));
  WriteRaw(t.data.data(), t.data.size());
}

size_t Writer::WriteUnknownTagsBelow(const UnknownTaggedFields& f, size_t next, uint32_t tag) {
  for (; next < f.size() && f[next].tag < tag; ++next) WriteUnknownTag(f[next]);
  return next;
}

void Writer::WriteUnknownTagsFrom(const UnknownTaggedFields& f, size_t next) {
  for (; next < f.size(); ++next) WriteUnknownTag(f[next]);
}

size_t UnknownTagsSize(const UnknownTaggedFields& f) {
  size_t n = 0;
  for (const auto& t : f) {
    n += VarintSize(t.tag) + VarintSize(static_cast<uint32_t>(t.data.size())) + t.data.size();
  }
  return n;
}

const UnknownTaggedFields& WithoutTags(const UnknownTaggedFields& f, const uint32_t* known,
                                       size_t known_count, UnknownTaggedFields* scratch) {
  auto is_known = [&](uint32_t tag) {
    for (size_t i = 0; i < known_count; ++i) {
      if (known[i] == tag) return true;
    }
    return false;
  };
  bool clash = false;
  for (const auto& t : f) clash = clash || is_known(t.tag);
  if (!clash) return f;
  for (const auto& t : f) {
    if (!is_known(t.tag)) scratch->push_back(t);
  }
  return *scratch;
}

}  // namespace fjord::protocol
