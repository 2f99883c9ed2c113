// Fuzzes what the group coordinator reads from __consumer_offsets: record keys and values
// (decode), replayed into a GroupShard, and the group-to-partition hash. Nothing may
// crash, hang or leak; a record that decodes re-encodes to one that decodes the same.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>
#include <string_view>

#include "fjord/coordinator/group_records.h"
#include "fjord/coordinator/group_shard.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace fjord::coordinator;
  if (size < 2) return 0;
  // First byte: the key's length; second: whether a value follows (odd) or a tombstone.
  std::span<const uint8_t> in(data + 2, size - 2);
  const size_t key_len = std::min<size_t>(data[0], in.size());
  std::span<const uint8_t> key = in.subspan(0, key_len);
  std::optional<std::span<const uint8_t>> value;
  if (data[1] & 1) value = in.subspan(key_len);
  fjord::ManualClock clock;
  GroupShard shard(
      clock, [](const std::vector<KeyValue>&, const TxnProducer*) { return absl::OkStatus(); });
  absl::StatusOr<GroupRecord> r = DecodeGroupRecord(key, value);
  if (r.ok()) {
    shard.Replay(*r);
    if (r->kind == GroupRecord::Kind::kOffsetCommit) {
      KeyValue kv =
          OffsetCommitRecord(r->group, r->topic, r->partition, r->offset ? &*r->offset : nullptr);
      std::optional<std::span<const uint8_t>> v2;
      if (kv.value) v2 = std::span<const uint8_t>(*kv.value);
      absl::StatusOr<GroupRecord> again = DecodeGroupRecord(kv.key, v2);
      if (!again.ok() || again->group != r->group || again->topic != r->topic) std::abort();
    }
    if (r->kind == GroupRecord::Kind::kGroupMetadata) {
      // A decoded group record re-encodes to one that decodes to the same group.
      KeyValue kv = GroupMetadataRecord(r->group, r->metadata ? &*r->metadata : nullptr);
      std::optional<std::span<const uint8_t>> v2;
      if (kv.value) v2 = std::span<const uint8_t>(*kv.value);
      absl::StatusOr<GroupRecord> again = DecodeGroupRecord(kv.key, v2);
      if (!again.ok() || again->metadata != r->metadata) std::abort();
    }
    shard.FinishLoad();
    // Whatever a record said, the group it left behind takes requests without crashing.
    shard.Heartbeat(r->group, "m", std::nullopt, 1);
    std::vector<GroupShard::LeaveItem> leave = {{"m", std::nullopt}};
    shard.Leave(r->group, leave, "");
    GroupShard::JoinRequest join;
    join.group_id = r->group.empty() ? "g" : r->group;
    join.protocol_type = "consumer";
    join.protocols = {{"range", {}}};
    join.session_timeout_ms = 10000;
    join.rebalance_timeout_ms = 10000;
    shard.Join(std::move(join), [](JoinResult) {});
    shard.ExpireOffsets();
  }
  const std::string_view id(reinterpret_cast<const char*>(data), size);
  const int32_t p = PartitionForGroup(id, 1 + data[0]);
  if (p < 0 || p > data[0]) std::abort();
  return 0;
}
