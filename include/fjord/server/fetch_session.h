#pragma once
// Incremental fetch sessions (KIP-227). A client that fetches the same partitions over and
// over opens a session with one full fetch; later requests name only the partitions whose
// fetch position changed (plus those to drop), and responses carry only the partitions
// with something new: records, a moved high watermark or log start, or an error.
//
// FetchSessionCache holds the sessions of one broker, bounded by
// `max.incremental.fetch.session.cache.slots`. Each Fetch asks it for a FetchContext,
// which says which partitions to read (in order) and, once they are read, which of them
// the response carries and under which session id. Sessions are not tied to a
// connection. Thread-safe: Fetch requests arrive on every event loop.

#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <random>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "fjord/base/clock.h"
#include "fjord/base/types.h"
#include "fjord/protocol/error_codes.h"
#include "fjord/protocol/wire.h"

namespace fjord::server {

// A partition as a request names it: by topic id (Fetch v13+) or by topic name.
struct SessionKey {
  protocol::Uuid topic_id;
  std::string topic;
  int32_t partition = 0;

  bool operator==(const SessionKey&) const = default;
  template <typename H>
  friend H AbslHashValue(H h, const SessionKey& k) {
    return H::combine(std::move(h), k.topic_id.bytes, k.topic, k.partition);
  }
};

// What a request asks of one partition.
struct PartitionFetch {
  Offset fetch_offset{0};
  int32_t max_bytes = 0;
  int32_t current_leader_epoch = -1;
  int32_t last_fetched_epoch = -1;
  Offset log_start_offset{-1};  // followers only
};

// The session fields of a Fetch request. Epoch 0 opens a session, -1 asks for none.
struct FetchMetadata {
  static constexpr int32_t kInitialEpoch = 0;
  static constexpr int32_t kFinalEpoch = -1;
  int32_t session_id = 0;
  int32_t epoch = kFinalEpoch;
};

// How the read of one partition came out, as far as a session cares.
struct PartitionOutcome {
  bool has_records = false;
  bool error = false;
  Offset high_watermark{-1};
  Offset log_start_offset{-1};
};

class FetchSession;
class FetchSessionCache;

// One Fetch request's view of the sessions (Kafka's FetchContext).
class FetchContext {
 public:
  enum class Kind {
    kSessionless,  // full request and response, no session (epoch -1, or Fetch < v7)
    kFull,         // full request and response; opens a session if a slot is free
    kIncremental,  // reads every partition of the session, answers only what changed
    kError,        // the request is answered with error() and nothing else
  };

  Kind kind() const { return kind_; }
  protocol::ErrorCode error() const { return error_; }
  // The partitions to read, in the order their data goes into the response.
  const std::vector<std::pair<SessionKey, PartitionFetch>>& partitions() const {
    return partitions_;
  }

  // Called once the partitions are read (outcomes[i] for partitions()[i]). Fills
  // `include` with the indices the response carries, in order, updates the session and
  // returns the session id to answer with (0: none).
  int32_t Complete(std::span<const PartitionOutcome> outcomes, std::vector<size_t>* include);

 private:
  friend class FetchSessionCache;
  Kind kind_ = Kind::kSessionless;
  protocol::ErrorCode error_ = protocol::ErrorCode::kNone;
  std::vector<std::pair<SessionKey, PartitionFetch>> partitions_;
  FetchSessionCache* cache_ = nullptr;
  std::shared_ptr<FetchSession> session_;
  bool privileged_ = false;
  bool uses_topic_ids_ = false;
};

class FetchSessionCache {
 public:
  // A session unused this long may be evicted by any new session (Kafka's fixed 120 s).
  static constexpr int64_t kEvictionMs = 120'000;

  FetchSessionCache(size_t max_sessions, Clock& clock);
  ~FetchSessionCache();

  // `privileged`: the request comes from a follower, whose sessions outrank consumers'.
  FetchContext NewContext(FetchMetadata md, bool uses_topic_ids, bool privileged,
                          std::vector<std::pair<SessionKey, PartitionFetch>> fetch,
                          std::span<const SessionKey> forget);

  size_t sessions() const;
  size_t partitions() const;

 private:
  friend class FetchContext;
  struct Candidate;

  // Under mu_. Frees a slot for a new session of `size` partitions, if the rules allow.
  bool TryEvict(bool privileged, size_t size, int64_t now);
  int32_t NewSessionId();
  void Remove(int32_t id);

  // Registers a session for a completed full fetch; 0 when no slot could be freed.
  int32_t MaybeCreate(bool privileged, bool uses_topic_ids,
                      const std::vector<std::pair<SessionKey, PartitionFetch>>& fetch,
                      std::span<const PartitionOutcome> outcomes);

  const size_t max_sessions_;
  Clock& clock_;
  mutable std::mutex mu_;
  absl::flat_hash_map<int32_t, std::shared_ptr<FetchSession>> sessions_;
  size_t partitions_ = 0;
  std::mt19937 rng_;
};

}  // namespace fjord::server
