#pragma once
// The transactional ids of one __transaction_state partition and their transactions
// (KIP-98): InitProducerId, AddPartitionsToTxn, AddOffsetsToTxn, EndTxn and the timeouts.
// As with groups, the log is the truth: each state change is appended (through `Append`)
// before it is applied, and ReplayBatch rebuilds the same state on load.
//
// Two-phase commit: EndTxn persists PrepareCommit or PrepareAbort and answers; the
// markers are then written to every partition of the transaction (through
// `WriteMarkers`), and CompleteCommit or CompleteAbort is persisted once all are written.
// A shard loaded with a transaction in a Prepare state resumes its markers. An Ongoing
// transaction older than its timeout is aborted with the producer's epoch bumped, which
// fences the producer; so is one whose transactional id is initialised again.
//
// Lives on the partition's event loop; not thread-safe. Callbacks run on that loop.

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "fjord/base/clock.h"
#include "fjord/coordinator/shard_host.h"
#include "fjord/coordinator/txn_records.h"
#include "fjord/protocol/error_codes.h"

namespace fjord::coordinator {

struct TxnConfig {
  int32_t max_timeout_ms = 900000;                    // transaction.max.timeout.ms
  int64_t id_expiration_ms = 7LL * 24 * 3600 * 1000;  // transactional.id.expiration.ms
};

// The markers of one transaction, for the writer.
struct TxnMarkers {
  ProducerId producer_id{-1};
  ProducerEpoch epoch{-1};
  bool commit = false;
  int32_t coordinator_epoch = 0;
  std::vector<std::pair<std::string, int32_t>> partitions;
};

class TxnShard final : public CoordinatorShard {
 public:
  using Append = std::function<absl::Status(const KeyValue&)>;
  // A fresh producer id; `done` runs on the shard's loop.
  using AllocateProducerId = std::function<void(std::function<void(absl::StatusOr<int64_t>)>)>;
  // Writes the markers (retrying what can be retried); `done` runs on the shard's loop
  // once every partition has its marker or cannot get one.
  using WriteMarkers = std::function<void(TxnMarkers, std::function<void()> done)>;

  struct InitResult {
    protocol::ErrorCode error = protocol::ErrorCode::kNone;
    ProducerId producer_id{-1};
    ProducerEpoch epoch{-1};
  };

  TxnShard(Clock& clock, int32_t coordinator_epoch, Append append, AllocateProducerId allocate,
           WriteMarkers write_markers, TxnConfig config = {});
  ~TxnShard() override;

  absl::Status ReplayBatch(const protocol::RecordBatchView& batch) override;
  // Resumes the markers of transactions loaded in a Prepare state.
  void FinishLoad() override;
  void Unload() override;
  // Aborts timed-out transactions and removes expired transactional ids.
  void Tick() override;
  std::string Summary() const override;

  // InitProducerId for a transactional id: a new producer id, or the next epoch of the
  // current one (a new id when the epoch is exhausted). An Ongoing transaction is aborted
  // first (CONCURRENT_TRANSACTIONS: the client retries). `expected` (KIP-360, v3+) must be
  // the current producer id and epoch, or PRODUCER_FENCED.
  void InitProducerId(const std::string& transactional_id, int32_t timeout_ms,
                      ProducerId expected_id, ProducerEpoch expected_epoch,
                      std::function<void(InitResult)> done);
  // AddPartitionsToTxn / AddOffsetsToTxn: starts or extends the transaction.
  protocol::ErrorCode AddPartitions(const std::string& transactional_id, ProducerId producer_id,
                                    ProducerEpoch epoch,
                                    const std::vector<std::pair<std::string, int32_t>>& partitions);
  // AddPartitionsToTxn v4+ with VerifyOnly (KIP-890, a partition leader asking before it
  // takes a transactional batch): per partition NONE when it is in the transaction, else
  // TRANSACTION_ABORTABLE; or one error for all (wrong producer, fenced, in Prepare).
  struct Verdicts {
    protocol::ErrorCode error = protocol::ErrorCode::kNone;
    std::vector<protocol::ErrorCode> partitions;  // with error NONE, in the request's order
  };
  Verdicts VerifyPartitions(const std::string& transactional_id, ProducerId producer_id,
                            ProducerEpoch epoch,
                            const std::vector<std::pair<std::string, int32_t>>& partitions) const;
  // EndTxn: PrepareCommit or PrepareAbort, answered before the markers are written.
  protocol::ErrorCode EndTxn(const std::string& transactional_id, ProducerId producer_id,
                             ProducerEpoch epoch, bool commit);

  const TxnMetadata* Find(const std::string& transactional_id) const;
  const absl::flat_hash_map<std::string, TxnMetadata>& txns() const { return txns_; }

 private:
  // Appends the record of `next` and applies it; the error a failed write answers.
  protocol::ErrorCode Store(const std::string& id, TxnMetadata next);
  // Checks a request's producer id and epoch against the transaction.
  static protocol::ErrorCode CheckProducer(const TxnMetadata& t, ProducerId producer_id,
                                           ProducerEpoch epoch);
  // PrepareCommit / PrepareAbort persisted; the markers are started.
  protocol::ErrorCode Prepare(const std::string& id, TxnMetadata next, bool commit);
  void StartMarkers(const std::string& id);
  void MarkersWritten(const std::string& id, ProducerId producer_id, ProducerEpoch epoch);
  // A new producer id for `id` (a new transactional id, or an exhausted epoch).
  void InitWithNewProducerId(const std::string& id, int32_t timeout_ms,
                             std::function<void(InitResult)> done);

  Clock& clock_;
  const int32_t coordinator_epoch_;
  Append append_;
  AllocateProducerId allocate_;
  WriteMarkers write_markers_;
  TxnConfig config_;
  absl::flat_hash_map<std::string, TxnMetadata> txns_;
  absl::flat_hash_set<std::string> allocating_;  // ids waiting for a new producer id
  // Callbacks that outlive the shard see this expired.
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace fjord::coordinator
