#pragma once
// Reading a topic as consumers do, for `consume` and `perf consume`: each round sends one
// Fetch to every partition leader for all the partitions it leads, all at once, then hands
// out the records in offset order per partition. Positions advance past every record
// handed out and past what a consumer never sees (control batches, and with
// read_committed the batches of aborted transactions).

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <vector>

#include "absl/status/statusor.h"
#include "context.h"
#include "fjord/protocol/messages/fetch_response.h"
#include "fjord/protocol/record_batch.h"

namespace fjord::ctl {

struct FetchOptions {
  bool read_committed = false;
  int32_t max_wait_ms = 200;
  int32_t max_bytes = 50 << 20;           // fetch.max.bytes
  int32_t partition_max_bytes = 1 << 20;  // max.partition.fetch.bytes
  // Where a partition goes when its position is out of range (ListOffsets' specials).
  int64_t reset_to = -2;
};

// What one round fetched.
struct FetchRound {
  int64_t records = 0;
  // Each Fetch sent, from send to answer, with the records it brought.
  struct Call {
    std::chrono::nanoseconds latency{0};
    int64_t records = 0;
  };
  std::vector<Call> calls;
};

class Fetcher {
 public:
  Fetcher(Context& ctx, client::TopicInfo topic, FetchOptions options);

  // Called for each record in offset order; false stops the round there (the position
  // then points at the record after the last one accepted).
  using RecordFn = std::function<bool(int32_t partition, const protocol::Record&)>;

  // One round over `positions` (partition: next offset to read), which it advances.
  absl::StatusOr<FetchRound> Poll(std::map<int32_t, int64_t>& positions, const RecordFn& on_record);

 private:
  // Hands out one partition's records; false when on_record stopped.
  absl::StatusOr<bool> Deliver(const protocol::FetchResponse::PartitionData& pd, int64_t& position,
                               const RecordFn& on_record, int64_t* delivered);

  Context& ctx_;
  client::TopicInfo topic_;
  FetchOptions options_;
  bool refresh_ = false;  // a routing error: look the leaders up again before the next round
};

}  // namespace fjord::ctl
