#pragma once
// Producer state snapshots (KIP-98): `<offset>.snapshot` in a partition directory holds
// every producer's state after all batches below <offset>, so opening a log replays only
// the batches after its newest snapshot instead of every segment.
//
// The file is Kafka's producer snapshot, version 1, big-endian:
//     int16 version (1) | uint32 CRC-32C of everything after it | int32 entry count |
//     entries: producer id, epoch, last sequence, last offset, offset delta, timestamp,
//              coordinator epoch, current transaction's first offset (-1: none)
// Kafka writes one entry per producer, for its last batch. Fjord writes one per retained
// batch (up to five, oldest first) so a restart keeps the whole duplicate window; a
// producer with no batch left has one entry with last sequence -1. A reader that keeps
// the last entry per producer (Kafka's) reads the same state.
//
// Snapshots are taken when a segment rolls (at the new segment's base offset) and when the
// log closes (at its end offset), written and fsynced with the flush that covers them.
// A snapshot goes with the segment it belongs to, when truncation removes its offset, or
// when it fails to decode (the log then falls back to an older one, or to every segment).

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "fjord/base/types.h"
#include "fjord/storage/producer_state.h"

namespace fjord::storage {

inline constexpr std::string_view kProducerSnapshotSuffix = ".snapshot";
inline constexpr int16_t kProducerSnapshotVersion = 1;

std::vector<uint8_t> EncodeProducerSnapshot(const ProducerStateTable& table);

// Decodes a snapshot taken at `offset`. Anything that is not a whole, checksummed
// version-1 snapshot consistent with that offset (entries at or above it, negative ids or
// epochs, batches out of order) is kDataLoss naming the problem.
absl::StatusOr<ProducerStateTable> DecodeProducerSnapshot(std::span<const uint8_t> bytes,
                                                          Offset offset);

}  // namespace fjord::storage
