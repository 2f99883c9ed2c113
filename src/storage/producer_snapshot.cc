#include "fjord/storage/producer_snapshot.h"

#include "absl/strings/str_cat.h"
#include "fjord/base/crc32c.h"
#include "fjord/protocol/storage/producer_snapshot.h"
#include "fjord/protocol/wire.h"

namespace fjord::storage {
namespace {

using Snapshot = protocol::storage::ProducerSnapshot;
using Entry = Snapshot::ProducerEntry;

// Bytes before the checksummed part: the version and the CRC itself.
constexpr size_t kHeaderSize = 2 + 4;

Entry EntryOf(ProducerId id, const ProducerEntry& p) {
  Entry e;
  e.producer_id = id;
  e.epoch = p.epoch.value;
  e.timestamp = p.last_timestamp;
  e.coordinator_epoch = p.coordinator_epoch;
  e.current_txn_first_offset = p.txn_first_offset.value_or(Offset(-1));
  e.last_sequence = -1;
  e.last_offset = Offset(-1);
  return e;
}

// Sequences wrap at INT32_MAX, so the first sequence is not always last - delta.
int32_t FirstSeqOf(int32_t last_seq, int32_t delta) {
  const int64_t first = static_cast<int64_t>(last_seq) - delta;
  return static_cast<int32_t>(first >= 0 ? first : first + INT32_MAX + 1);
}

absl::Status Corrupt(absl::string_view what) {
  return absl::DataLossError(absl::StrCat("producer snapshot: ", what));
}

}  // namespace

std::vector<uint8_t> EncodeProducerSnapshot(const ProducerStateTable& table) {
  Snapshot s;
  for (const auto& [id, p] : table.producers()) {
    if (p.batches.empty()) {
      s.producer_entries.push_back(EntryOf(ProducerId(id), p));
      continue;
    }
    for (const ProducerBatch& b : p.batches) {
      Entry e = EntryOf(ProducerId(id), p);
      e.last_sequence = b.last_seq;
      e.last_offset = b.last_offset;
      e.offset_delta = static_cast<int32_t>(b.last_offset.value - b.first_offset.value);
      e.timestamp = b.max_timestamp;
      s.producer_entries.push_back(e);
    }
  }
  const int16_t version = kProducerSnapshotVersion;
  std::vector<uint8_t> out{static_cast<uint8_t>(version >> 8), static_cast<uint8_t>(version)};
  // The generated message starts with the CRC field: encode it as 0, then fill it in.
  protocol::EncodeMessage(s, version, &out);
  const uint32_t crc = crc32c::Value(out.data() + kHeaderSize, out.size() - kHeaderSize);
  for (int i = 0; i < 4; ++i) out[2 + i] = static_cast<uint8_t>(crc >> (24 - 8 * i));
  return out;
}

absl::StatusOr<ProducerStateTable> DecodeProducerSnapshot(std::span<const uint8_t> bytes,
                                                          Offset offset) {
  if (bytes.size() < kHeaderSize) return Corrupt("shorter than its header");
  const int16_t version = static_cast<int16_t>((bytes[0] << 8) | bytes[1]);
  if (version != kProducerSnapshotVersion) {
    return Corrupt(absl::StrCat("unknown version ", version));
  }
  uint32_t stored = 0;
  for (int i = 0; i < 4; ++i) stored = (stored << 8) | bytes[2 + i];
  const uint32_t computed = crc32c::Value(bytes.data() + kHeaderSize, bytes.size() - kHeaderSize);
  if (stored != computed) {
    return Corrupt(absl::StrCat("CRC ", stored, " does not match the content's ", computed));
  }
  Snapshot s;
  size_t consumed = 0;
  if (absl::Status st = protocol::DecodeMessage(bytes.subspan(2), version, &s, &consumed);
      !st.ok()) {
    return Corrupt(st.message());
  }
  if (consumed != bytes.size() - 2) return Corrupt("bytes after the last entry");

  ProducerStateTable table;
  absl::flat_hash_map<int64_t, ProducerEntry> producers;
  for (size_t i = 0; i < s.producer_entries.size(); ++i) {
    const Entry& e = s.producer_entries[i];
    auto bad = [&](absl::string_view what) {
      return Corrupt(absl::StrCat("entry ", i, " (producer ", e.producer_id.value, "): ", what));
    };
    if (e.producer_id.value < 0 || e.epoch < 0) return bad("negative producer id or epoch");
    const Offset txn = e.current_txn_first_offset;
    if (txn.value < -1 || txn >= offset) return bad("transaction outside the snapshot");
    ProducerEntry& p = producers[e.producer_id.value];
    if (p.epoch.value >= 0 && p.epoch.value != e.epoch) return bad("epochs disagree");
    p.epoch = ProducerEpoch(e.epoch);
    p.last_timestamp = std::max(p.last_timestamp, e.timestamp);
    p.coordinator_epoch = e.coordinator_epoch;
    if (txn.value >= 0) p.txn_first_offset = txn;
    if (e.last_sequence < 0) continue;
    const Offset first(e.last_offset.value - e.offset_delta);
    if (e.offset_delta < 0 || first.value < 0 || e.last_offset >= offset) {
      return bad("batch offsets outside the snapshot");
    }
    if (!p.batches.empty() && first <= p.batches.back().last_offset) {
      return bad("batches out of offset order");
    }
    p.batches.push_back(ProducerBatch{FirstSeqOf(e.last_sequence, e.offset_delta), e.last_sequence,
                                      first, e.last_offset, e.timestamp});
    if (p.batches.size() > ProducerStateTable::kMaxBatches) p.batches.pop_front();
  }
  // One transaction per first offset: two producers cannot have begun at the same one.
  absl::flat_hash_map<int64_t, int64_t> txn_owner;
  for (const auto& [id, p] : producers) {
    if (!p.txn_first_offset) continue;
    auto [it, fresh] = txn_owner.emplace(p.txn_first_offset->value, id);
    if (!fresh) {
      return Corrupt(absl::StrCat("producers ", it->second, " and ", id,
                                  " both have a transaction from offset ",
                                  p.txn_first_offset->value));
    }
  }
  for (auto& [id, p] : producers) table.Restore(ProducerId(id), std::move(p));
  return table;
}

}  // namespace fjord::storage
