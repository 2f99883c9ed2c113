#include "fjord/server/fetch_session.h"

#include <limits>

namespace fjord::server {

using protocol::ErrorCode;

// One session: its partitions in fetch order, with what the client asked for last and
// what the last response told it. Guarded by the cache's mutex.
class FetchSession {
 public:
  struct Entry {
    SessionKey key;
    PartitionFetch request;
    Offset high_watermark{-1};  // as last sent; -1 after an error, so it is sent again
    Offset log_start_offset{-1};
  };

  FetchSession(int32_t id, bool privileged, bool uses_topic_ids, int64_t now)
      : id(id),
        privileged(privileged),
        uses_topic_ids(uses_topic_ids),
        created_ms(now),
        last_used_ms(now) {}

  Entry& Upsert(const SessionKey& key, const PartitionFetch& request) {
    auto it = index_.find(key);
    if (it != index_.end()) {
      it->second->request = request;
      return *it->second;
    }
    order_.push_back(Entry{key, request});
    index_.emplace(key, std::prev(order_.end()));
    return order_.back();
  }
  void Erase(const SessionKey& key) {
    auto it = index_.find(key);
    if (it == index_.end()) return;
    order_.erase(it->second);
    index_.erase(it);
  }
  Entry* Find(const SessionKey& key) {
    auto it = index_.find(key);
    return it == index_.end() ? nullptr : &*it->second;
  }
  // Moves a partition behind all others, so partitions take turns at the response budget.
  void MoveToBack(const SessionKey& key) {
    auto it = index_.find(key);
    if (it != index_.end()) order_.splice(order_.end(), order_, it->second);
  }
  const std::list<Entry>& entries() const { return order_; }
  size_t size() const { return order_.size(); }

  const int32_t id;
  const bool privileged;
  const bool uses_topic_ids;
  const int64_t created_ms;
  int64_t last_used_ms;
  int32_t epoch = 1;  // the epoch the next request must carry
  bool evicted = false;

 private:
  std::list<Entry> order_;
  absl::flat_hash_map<SessionKey, std::list<Entry>::iterator> index_;
};

namespace {

int32_t NextEpoch(int32_t epoch) {
  if (epoch < 0) return FetchMetadata::kFinalEpoch;
  return epoch == std::numeric_limits<int32_t>::max() ? 1 : epoch + 1;
}

// Whether an incremental response must carry this partition; records what it tells.
bool MustRespond(FetchSession::Entry& e, const PartitionOutcome& o) {
  bool must = o.has_records;
  if (o.high_watermark != e.high_watermark) {
    must = true;
    e.high_watermark = o.high_watermark;
  }
  if (o.log_start_offset != e.log_start_offset) {
    must = true;
    e.log_start_offset = o.log_start_offset;
  }
  if (o.error) {
    // Forget the watermark so the partition is sent again once the error clears.
    must = true;
    e.high_watermark = Offset(-1);
  }
  return must;
}

}  // namespace

FetchSessionCache::FetchSessionCache(size_t max_sessions, Clock& clock)
    : max_sessions_(max_sessions), clock_(clock), rng_(std::random_device{}()) {}

FetchSessionCache::~FetchSessionCache() = default;

size_t FetchSessionCache::sessions() const {
  std::lock_guard lock(mu_);
  return sessions_.size();
}

size_t FetchSessionCache::partitions() const {
  std::lock_guard lock(mu_);
  return partitions_;
}

FetchContext FetchSessionCache::NewContext(FetchMetadata md, bool uses_topic_ids, bool privileged,
                                           std::vector<std::pair<SessionKey, PartitionFetch>> fetch,
                                           std::span<const SessionKey> forget) {
  FetchContext ctx;
  ctx.cache_ = this;
  ctx.privileged_ = privileged;
  ctx.uses_topic_ids_ = uses_topic_ids;
  std::lock_guard lock(mu_);
  const bool full =
      md.epoch == FetchMetadata::kInitialEpoch || md.epoch == FetchMetadata::kFinalEpoch;
  if (full) {
    // A full request closes the session it names, if any.
    if (md.session_id != 0) Remove(md.session_id);
    ctx.kind_ = md.epoch == FetchMetadata::kFinalEpoch ? FetchContext::Kind::kSessionless
                                                       : FetchContext::Kind::kFull;
    ctx.partitions_ = std::move(fetch);
    return ctx;
  }
  auto it = sessions_.find(md.session_id);
  if (it == sessions_.end()) {
    ctx.kind_ = FetchContext::Kind::kError;
    ctx.error_ = ErrorCode::kFetchSessionIdNotFound;
    return ctx;
  }
  FetchSession& s = *it->second;
  if (s.epoch != md.epoch) {
    ctx.kind_ = FetchContext::Kind::kError;
    ctx.error_ = ErrorCode::kInvalidFetchSessionEpoch;
    return ctx;
  }
  if (s.uses_topic_ids != uses_topic_ids) {
    ctx.kind_ = FetchContext::Kind::kError;
    ctx.error_ = ErrorCode::kFetchSessionTopicIdError;
    return ctx;
  }
  partitions_ -= s.size();
  for (auto& [key, request] : fetch) s.Upsert(key, request);
  for (const SessionKey& key : forget) s.Erase(key);
  partitions_ += s.size();
  if (s.size() == 0) {
    // Everything was forgotten: the session ends and this request reads nothing.
    Remove(s.id);
    ctx.kind_ = FetchContext::Kind::kSessionless;
    return ctx;
  }
  s.last_used_ms = clock_.NowMs();
  s.epoch = NextEpoch(s.epoch);
  ctx.kind_ = FetchContext::Kind::kIncremental;
  ctx.session_ = it->second;
  ctx.partitions_.reserve(s.size());
  for (const FetchSession::Entry& e : s.entries()) ctx.partitions_.emplace_back(e.key, e.request);
  return ctx;
}

int32_t FetchContext::Complete(std::span<const PartitionOutcome> outcomes,
                               std::vector<size_t>* include) {
  include->clear();
  switch (kind_) {
    case Kind::kError:
      return 0;
    case Kind::kSessionless:
      for (size_t i = 0; i < partitions_.size(); ++i) include->push_back(i);
      return 0;
    case Kind::kFull:
      for (size_t i = 0; i < partitions_.size(); ++i) include->push_back(i);
      return cache_->MaybeCreate(privileged_, uses_topic_ids_, partitions_, outcomes);
    case Kind::kIncremental:
      break;
  }
  std::lock_guard lock(cache_->mu_);
  FetchSession& s = *session_;
  for (size_t i = 0; i < partitions_.size(); ++i) {
    const SessionKey& key = partitions_[i].first;
    FetchSession::Entry* e = s.Find(key);
    // A partition forgotten meanwhile (a pipelined request) is still answered.
    if (e == nullptr || MustRespond(*e, outcomes[i])) {
      include->push_back(i);
      if (e != nullptr && outcomes[i].has_records) s.MoveToBack(key);
    }
  }
  return s.evicted ? 0 : s.id;
}

int32_t FetchSessionCache::MaybeCreate(
    bool privileged, bool uses_topic_ids,
    const std::vector<std::pair<SessionKey, PartitionFetch>>& fetch,
    std::span<const PartitionOutcome> outcomes) {
  std::lock_guard lock(mu_);
  const int64_t now = clock_.NowMs();
  if (max_sessions_ == 0) return 0;
  if (sessions_.size() >= max_sessions_ && !TryEvict(privileged, fetch.size(), now)) return 0;
  auto s = std::make_shared<FetchSession>(NewSessionId(), privileged, uses_topic_ids, now);
  for (size_t i = 0; i < fetch.size(); ++i) {
    FetchSession::Entry& e = s->Upsert(fetch[i].first, fetch[i].second);
    e.high_watermark = outcomes[i].error ? Offset(-1) : outcomes[i].high_watermark;
    e.log_start_offset = outcomes[i].log_start_offset;
  }
  partitions_ += s->size();
  const int32_t id = s->id;
  sessions_.emplace(id, std::move(s));
  return id;
}

// Kafka's rules: a session unused for kEvictionMs goes first (least recently used);
// otherwise the least valuable evictable session goes, if the new one is worth at least
// as much (followers over consumers, then more partitions). A consumer may evict only
// sessions older than kEvictionMs; a follower may also evict any consumer's.
bool FetchSessionCache::TryEvict(bool privileged, size_t size, int64_t now) {
  FetchSession* lru = nullptr;
  FetchSession* cheapest = nullptr;
  auto worth = [](const FetchSession& s) { return std::make_pair(s.privileged, s.size()); };
  for (const auto& [id, session] : sessions_) {
    FetchSession& s = *session;
    if (lru == nullptr || s.last_used_ms < lru->last_used_ms) lru = &s;
    const bool old = now - s.created_ms > kEvictionMs;
    const bool evictable = old || (privileged && !s.privileged);
    if (evictable && (cheapest == nullptr || worth(s) < worth(*cheapest) ||
                      (worth(s) == worth(*cheapest) && s.id < cheapest->id))) {
      cheapest = &s;
    }
  }
  if (lru != nullptr && now - lru->last_used_ms > kEvictionMs) {
    Remove(lru->id);
    return true;
  }
  if (cheapest == nullptr || std::make_pair(privileged, size) < worth(*cheapest)) return false;
  Remove(cheapest->id);
  return true;
}

void FetchSessionCache::Remove(int32_t id) {
  auto it = sessions_.find(id);
  if (it == sessions_.end()) return;
  partitions_ -= it->second->size();
  it->second->evicted = true;
  sessions_.erase(it);
}

int32_t FetchSessionCache::NewSessionId() {
  std::uniform_int_distribution<int32_t> dist(1, std::numeric_limits<int32_t>::max());
  for (;;) {
    int32_t id = dist(rng_);
    if (!sessions_.contains(id)) return id;
  }
}

}  // namespace fjord::server
