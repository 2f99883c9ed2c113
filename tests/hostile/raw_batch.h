#pragma once
// A raw RecordBatch v2 encoder for the hostile suite: every field of the batch header and
// of each record can be set to anything, including values no client library would write.
// The CRC-32C is computed over the bytes as they end up, unless a case overrides it.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "fjord/base/crc32c.h"
#include "fjord/base/endian.h"
#include "fjord/base/varint.h"

namespace fjord::hostile {

inline int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Zig-zag varint (a record's signed fields) appended to `out`.
inline void PutVarint(std::vector<uint8_t>& out, int64_t v) {
  uint8_t buf[10];
  const uint64_t zz = (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63);
  const size_t n = varint::PutUnsigned(buf, zz);
  out.insert(out.end(), buf, buf + n);
}

struct RawHeader {
  std::optional<std::string> key = "h";
  std::optional<std::string> value = "v";
  std::optional<int32_t> key_length;  // written instead of the key's length
};

struct RawRecord {
  int8_t attributes = 0;
  int64_t timestamp_delta = 0;
  int32_t offset_delta = 0;
  std::optional<std::string> key;
  std::optional<std::string> value = std::string("value");
  std::optional<int32_t> key_length;    // written instead of the key's length
  std::optional<int32_t> value_length;  // written instead of the value's length
  std::vector<RawHeader> headers;
  std::optional<int32_t> header_count;  // written instead of headers.size()
  std::optional<int32_t> length;        // written instead of the body's length

  std::vector<uint8_t> Encode() const {
    std::vector<uint8_t> body;
    body.push_back(static_cast<uint8_t>(attributes));
    PutVarint(body, timestamp_delta);
    PutVarint(body, offset_delta);
    auto bytes = [&body](const std::optional<std::string>& s, std::optional<int32_t> len) {
      PutVarint(body, len ? *len : (s ? static_cast<int64_t>(s->size()) : -1));
      if (s) body.insert(body.end(), s->begin(), s->end());
    };
    bytes(key, key_length);
    bytes(value, value_length);
    PutVarint(body, header_count ? *header_count : static_cast<int64_t>(headers.size()));
    for (const RawHeader& h : headers) {
      bytes(h.key, h.key_length);
      bytes(h.value, std::nullopt);
    }
    std::vector<uint8_t> out;
    PutVarint(out, length ? *length : static_cast<int64_t>(body.size()));
    out.insert(out.end(), body.begin(), body.end());
    return out;
  }
};

struct RawBatch {
  int64_t base_offset = 0;
  std::optional<int32_t> batch_length;  // default: the bytes that follow the field
  int32_t partition_leader_epoch = -1;
  int8_t magic = 2;
  std::optional<uint32_t> crc;  // default: computed
  int16_t attributes = 0;
  std::optional<int32_t> last_offset_delta;  // default: records - 1
  int64_t base_timestamp = NowMs();
  std::optional<int64_t> max_timestamp;  // default: base_timestamp
  int64_t producer_id = -1;
  int16_t producer_epoch = -1;
  int32_t base_sequence = -1;
  std::optional<int32_t> records_count;  // default: records.size()
  std::vector<RawRecord> records = {RawRecord{}};
  std::optional<std::vector<uint8_t>> records_bytes;  // written instead of `records`
  std::vector<uint8_t> trailing;                      // after the batch, outside its length

  // `n` records with offset deltas 0..n-1.
  static RawBatch WithRecords(int n) {
    RawBatch b;
    b.records.clear();
    for (int i = 0; i < n; ++i) {
      RawRecord r;
      r.offset_delta = i;
      b.records.push_back(r);
    }
    return b;
  }

  std::vector<uint8_t> Encode() const {
    std::vector<uint8_t> out(61);
    if (records_bytes) {
      out.insert(out.end(), records_bytes->begin(), records_bytes->end());
    } else {
      for (const RawRecord& r : records) {
        const std::vector<uint8_t> e = r.Encode();
        out.insert(out.end(), e.begin(), e.end());
      }
    }
    const int32_t count = records_count ? *records_count : static_cast<int32_t>(records.size());
    uint8_t* p = out.data();
    be::Store64(p, static_cast<uint64_t>(base_offset));
    be::Store32(p + 8, static_cast<uint32_t>(batch_length ? *batch_length
                                                          : static_cast<int32_t>(out.size() - 12)));
    be::Store32(p + 12, static_cast<uint32_t>(partition_leader_epoch));
    p[16] = static_cast<uint8_t>(magic);
    be::Store16(p + 21, static_cast<uint16_t>(attributes));
    be::Store32(p + 23, static_cast<uint32_t>(last_offset_delta ? *last_offset_delta : count - 1));
    be::Store64(p + 27, static_cast<uint64_t>(base_timestamp));
    be::Store64(p + 35, static_cast<uint64_t>(max_timestamp ? *max_timestamp : base_timestamp));
    be::Store64(p + 43, static_cast<uint64_t>(producer_id));
    be::Store16(p + 51, static_cast<uint16_t>(producer_epoch));
    be::Store32(p + 53, static_cast<uint32_t>(base_sequence));
    be::Store32(p + 57, static_cast<uint32_t>(count));
    be::Store32(p + 17, crc ? *crc : crc32c::Value(p + 21, out.size() - 21));
    out.insert(out.end(), trailing.begin(), trailing.end());
    return out;
  }
};

}  // namespace fjord::hostile
