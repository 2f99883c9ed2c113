// Fuzzes what the transaction coordinator reads from __transaction_state: record keys and
// values (decode, re-encode), replayed into a TxnShard that then takes the transactional
// requests. Nothing may crash, hang or leak; a record that decodes re-encodes to one that
// decodes the same.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>

#include "fjord/coordinator/txn_records.h"
#include "fjord/coordinator/txn_shard.h"
#include "fjord/protocol/record_batch_builder.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace fjord::coordinator;
  if (size < 2) return 0;
  // First byte: the key's length; second: whether a value follows (odd) or a tombstone.
  std::span<const uint8_t> in(data + 2, size - 2);
  const size_t key_len = std::min<size_t>(data[0], in.size());
  std::span<const uint8_t> key = in.subspan(0, key_len);
  std::optional<std::span<const uint8_t>> value;
  if (data[1] & 1) value = in.subspan(key_len);
  absl::StatusOr<DecodedTxnRecord> r = DecodeTxnRecord(key, value);
  if (!r.ok()) return 0;
  KeyValue kv = TxnRecord(r->transactional_id, r->txn ? &*r->txn : nullptr);
  std::optional<std::span<const uint8_t>> v2;
  if (kv.value) v2 = std::span<const uint8_t>(*kv.value);
  absl::StatusOr<DecodedTxnRecord> again = DecodeTxnRecord(kv.key, v2);
  if (!again.ok() || again->transactional_id != r->transactional_id) std::abort();
  if (r->txn && (!again->txn || again->txn->state != r->txn->state ||
                 again->txn->partitions != r->txn->partitions)) {
    std::abort();
  }

  // Replayed into a shard, whatever it said, the id then takes requests without crashing.
  fjord::ManualClock clock;
  int64_t next_pid = 0;
  TxnShard shard(
      clock, 0, [](const KeyValue&) { return absl::OkStatus(); },
      [&](std::function<void(absl::StatusOr<int64_t>)> done) { done(next_pid++); },
      [](TxnMarkers, std::function<void()> done) { done(); });
  fjord::protocol::RecordBatchBuilder b;
  b.Add(0, key, value);
  absl::StatusOr<std::vector<uint8_t>> batch = std::move(b).Build();
  if (!batch.ok()) return 0;
  fjord::protocol::RecordBatchIterator it(*batch);
  if (!it.Next() || !shard.ReplayBatch(it.batch()).ok()) std::abort();
  shard.FinishLoad();
  const std::string& id = r->transactional_id;
  const fjord::ProducerId pid = r->txn ? r->txn->producer_id : fjord::ProducerId(0);
  const fjord::ProducerEpoch epoch = r->txn ? r->txn->epoch : fjord::ProducerEpoch(0);
  shard.AddPartitions(id, pid, epoch, {{"t", 0}});
  shard.EndTxn(id, pid, epoch, true);
  shard.InitProducerId(id, 1000, fjord::ProducerId(-1), fjord::ProducerEpoch(-1),
                       [](TxnShard::InitResult) {});
  clock.AdvanceMs(INT32_MAX);
  shard.Tick();
  return 0;
}
