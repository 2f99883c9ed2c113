#include "fjord/client/client.h"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <future>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "connection.h"
#include "fjord/protocol/messages/find_coordinator_request.h"
#include "fjord/protocol/messages/find_coordinator_response.h"
#include "fjord/protocol/messages/metadata_request.h"
#include "fjord/protocol/messages/metadata_response.h"

namespace fjord::client {

namespace asio = boost::asio;
using protocol::ErrorCode;
using Clock = std::chrono::steady_clock;

bool IsRoutingError(ErrorCode e) {
  switch (e) {
    case ErrorCode::kNotLeaderOrFollower:
    case ErrorCode::kLeaderNotAvailable:
    case ErrorCode::kNotCoordinator:
    case ErrorCode::kCoordinatorNotAvailable:
    case ErrorCode::kCoordinatorLoadInProgress:
    case ErrorCode::kNotController:
    case ErrorCode::kFencedLeaderEpoch:
    case ErrorCode::kUnknownLeaderEpoch:
    case ErrorCode::kRequestTimedOut:
    case ErrorCode::kNotEnoughReplicas:
    case ErrorCode::kNotEnoughReplicasAfterAppend:
    case ErrorCode::kKafkaStorageError:
    case ErrorCode::kThrottlingQuotaExceeded:
      return true;
    default:
      return false;
  }
}

std::string Target::ToString() const {
  switch (kind) {
    case Kind::kAny:
      return "any broker";
    case Kind::kBroker:
      return absl::StrCat("broker ", broker);
    case Kind::kController:
      return "the controller";
    case Kind::kLeader:
      return absl::StrCat("the leader of ", name, "-", partition);
    case Kind::kGroupCoordinator:
      return absl::StrCat("the coordinator of group ", name);
    case Kind::kTxnCoordinator:
      return absl::StrCat("the coordinator of transactional id ", name);
  }
  return "?";
}

namespace {

std::string ErrName(ErrorCode e) { return std::string(protocol::ErrorName(e)); }

ClusterInfo ClusterInfoOf(const protocol::MetadataResponse& r) {
  ClusterInfo c;
  c.cluster_id = r.cluster_id.value_or("");
  c.controller = r.controller_id.value;
  for (const auto& b : r.brokers) {
    c.brokers[b.node_id.value] = BrokerInfo{b.node_id.value, b.host, b.port, b.rack};
  }
  for (const auto& t : r.topics) {
    TopicInfo ti;
    ti.name = t.name.value_or("");
    ti.id = t.topic_id;
    ti.error = static_cast<ErrorCode>(t.error_code);
    ti.internal = t.is_internal;
    for (const auto& p : t.partitions) {
      PartitionInfo pi;
      pi.partition = p.partition_index.value;
      pi.error = static_cast<ErrorCode>(p.error_code);
      pi.leader = p.leader_id.value;
      pi.leader_epoch = p.leader_epoch.value;
      for (auto n : p.replica_nodes) pi.replicas.push_back(n.value);
      for (auto n : p.isr_nodes) pi.isr.push_back(n.value);
      for (auto n : p.offline_replicas) pi.offline.push_back(n.value);
      ti.partitions.push_back(std::move(pi));
    }
    std::sort(
        ti.partitions.begin(), ti.partitions.end(),
        [](const PartitionInfo& a, const PartitionInfo& b) { return a.partition < b.partition; });
    c.topics[ti.name] = std::move(ti);
  }
  return c;
}

// "host:port" (IPv6 as "[::1]:9092").
absl::StatusOr<std::pair<std::string, int32_t>> SplitAddress(const std::string& address) {
  const size_t colon = address.rfind(':');
  int32_t port = 0;
  if (colon == std::string::npos || colon == 0 ||
      !absl::SimpleAtoi(address.substr(colon + 1), &port) || port <= 0 || port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("bootstrap address '", address, "' is not host:port"));
  }
  std::string host = address.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  return std::make_pair(host, port);
}

}  // namespace

class Client::Impl {
 public:
  explicit Impl(Options options)
      : options_(std::move(options)),
        work_(asio::make_work_guard(io_)),
        thread_([this] { io_.run(); }) {}

  ~Impl() {
    asio::post(io_, [this] {
      for (auto& [id, c] : connections_) c->Close(absl::CancelledError("client closed"));
      io_.stop();
    });
    thread_.join();
  }

  const Options& options() const { return options_; }

  // A call in progress, across its retries.
  struct CallState {
    Target target;
    std::shared_ptr<const RawCall> call;
    std::function<void(absl::StatusOr<RawResponse>)> done;
    Clock::time_point deadline;
    std::chrono::milliseconds timeout{0};
    int attempt = 0;
    absl::Status last_error;
    std::unique_ptr<asio::steady_timer> timer;
  };

  void Start(Target target, RawCall call, std::function<void(absl::StatusOr<RawResponse>)> done,
             std::optional<Clock::time_point> deadline = std::nullopt) {
    auto st = std::make_shared<CallState>();
    st->target = std::move(target);
    st->call = std::make_shared<const RawCall>(std::move(call));
    st->done = std::move(done);
    st->timeout = st->call->timeout.count() > 0 ? st->call->timeout : options_.request_timeout;
    st->deadline = deadline.value_or(Clock::now() + st->timeout);
    asio::post(io_, [this, st] { Attempt(st); });
  }

  // `topics`: nullopt asks for every topic.
  void RefreshMetadata(std::optional<std::vector<std::string>> topics, Clock::time_point deadline,
                       std::function<void(absl::StatusOr<ClusterInfo>)> done,
                       bool auto_create = false) {
    protocol::MetadataRequest req;
    req.allow_auto_topic_creation = auto_create;
    if (!topics) {
      req.topics.reset();
    } else {
      req.topics.emplace();
      for (std::string& t : *topics) {
        protocol::MetadataRequest::MetadataRequestTopic rt;
        rt.name = std::move(t);
        req.topics->push_back(std::move(rt));
      }
    }
    RawCall call;
    call.key = protocol::ApiKey::kMetadata;
    call.min_version = 1;
    call.max_version = protocol::MetadataRequest::kMaxVersion;
    call.encode = [req](int16_t version, std::vector<uint8_t>* out) {
      protocol::EncodeMessage(req, version, out);
    };
    Start(
        Target::Any(), std::move(call),
        [this, done = std::move(done)](absl::StatusOr<RawResponse> r) {
          if (!r.ok()) return done(r.status());
          protocol::MetadataResponse resp;
          if (absl::Status s = protocol::DecodeMessage(r->body, r->version, &resp); !s.ok()) {
            return done(internal::DecodeError(resp.kName, s));
          }
          ClusterInfo info = ClusterInfoOf(resp);
          Remember(info);
          done(std::move(info));
        },
        deadline);
  }

 private:
  // Folds a Metadata answer into the routing cache.
  void Remember(const ClusterInfo& info) {
    if (!info.cluster_id.empty()) cache_.cluster_id = info.cluster_id;
    cache_.controller = info.controller;
    for (const auto& [id, b] : info.brokers) cache_.brokers[id] = b;
    for (const auto& [name, t] : info.topics) cache_.topics[name] = t;
  }

  void Attempt(std::shared_ptr<CallState> st) {
    if (Clock::now() >= st->deadline) return Expire(st);
    Resolve(st, [this, st](absl::StatusOr<std::shared_ptr<Connection>> conn) {
      if (!conn.ok()) {
        if (absl::IsUnavailable(conn.status())) return Retry(st, conn.status());
        return Finish(st, conn.status());
      }
      (*conn)->Send(st->call, [this, st, c = *conn](absl::StatusOr<RawResponse> r) {
        if (!r.ok()) {
          Forget(c);
          if (absl::IsUnavailable(r.status())) return Retry(st, r.status());
          return Finish(st, r.status());
        }
        if (st->call->retry) {
          ErrorCode e = st->call->retry(r->version, r->body);
          if (e != ErrorCode::kNone) {
            Invalidate(st->target);
            return Retry(st, absl::UnavailableError(
                                 absl::StrCat(st->target.ToString(), " answered ", ErrName(e))));
          }
        }
        Finish(st, std::move(r));
      });
    });
  }

  void Retry(std::shared_ptr<CallState> st, absl::Status why) {
    st->last_error = std::move(why);
    auto backoff = std::min(options_.retry_backoff * (1 << std::min(st->attempt, 10)),
                            options_.retry_backoff_max);
    ++st->attempt;
    if (Clock::now() + backoff >= st->deadline) return Expire(st);
    st->timer = std::make_unique<asio::steady_timer>(io_, backoff);
    st->timer->async_wait([this, st](const boost::system::error_code& ec) {
      if (!ec) Attempt(st);
    });
  }

  void Expire(const std::shared_ptr<CallState>& st) {
    Finish(st,
           absl::DeadlineExceededError(absl::StrCat(
               "timed out after ", st->timeout.count(), " ms waiting for ", st->target.ToString(),
               st->last_error.ok() ? "" : absl::StrCat(" (", st->last_error.message(), ")"))));
  }

  void Finish(const std::shared_ptr<CallState>& st, absl::StatusOr<RawResponse> r) {
    auto done = std::move(st->done);
    st->done = nullptr;
    if (done) done(std::move(r));
  }

  using ConnDone = std::function<void(absl::StatusOr<std::shared_ptr<Connection>>)>;

  // The connection a target routes to now, refreshing metadata or the coordinator first
  // when the cache does not know. kUnavailable: worth retrying.
  void Resolve(const std::shared_ptr<CallState>& st, ConnDone done) {
    const Target& t = st->target;
    switch (t.kind) {
      case Target::Kind::kAny:
        return done(AnyConnection(st->attempt));
      case Target::Kind::kBroker:
        return ToBroker(t.broker, st->deadline, std::move(done));
      case Target::Kind::kController: {
        if (cache_.controller >= 0)
          return ToBroker(cache_.controller, st->deadline, std::move(done));
        return RefreshMetadata(std::nullopt, st->deadline,
                               [this, st, done = std::move(done)](absl::StatusOr<ClusterInfo> c) {
                                 if (!c.ok()) return done(c.status());
                                 if (c->controller < 0) {
                                   return done(absl::UnavailableError("no active controller"));
                                 }
                                 ToBroker(c->controller, st->deadline, done);
                               });
      }
      case Target::Kind::kLeader: {
        auto leader = [this, st](const TopicInfo& topic) -> absl::StatusOr<int32_t> {
          const Target& t = st->target;
          if (topic.error != ErrorCode::kNone) {
            absl::Status s =
                absl::NotFoundError(absl::StrCat("topic ", t.name, ": ", ErrName(topic.error)));
            if (IsRoutingError(topic.error)) return absl::UnavailableError(s.message());
            return s;
          }
          for (const PartitionInfo& p : topic.partitions) {
            if (p.partition != t.partition) continue;
            if (p.leader < 0) {
              return absl::UnavailableError(
                  absl::StrCat(t.name, "-", t.partition, " has no leader (LEADER_NOT_AVAILABLE)"));
            }
            return p.leader;
          }
          return absl::NotFoundError(absl::StrCat("topic ", t.name, " has no partition ",
                                                  t.partition, " (UNKNOWN_TOPIC_OR_PARTITION)"));
        };
        auto it = cache_.topics.find(t.name);
        if (it != cache_.topics.end()) {
          absl::StatusOr<int32_t> id = leader(it->second);
          if (id.ok()) return ToBroker(*id, st->deadline, std::move(done));
        }
        return RefreshMetadata(
            std::vector<std::string>{t.name}, st->deadline,
            [this, st, leader, done = std::move(done)](absl::StatusOr<ClusterInfo> c) {
              if (!c.ok()) return done(c.status());
              auto it = c->topics.find(st->target.name);
              if (it == c->topics.end()) {
                return done(absl::NotFoundError(
                    absl::StrCat("topic ", st->target.name, ": UNKNOWN_TOPIC_OR_PARTITION")));
              }
              absl::StatusOr<int32_t> id = leader(it->second);
              if (!id.ok()) return done(id.status());
              ToBroker(*id, st->deadline, done);
            });
      }
      case Target::Kind::kGroupCoordinator:
      case Target::Kind::kTxnCoordinator:
        return ToCoordinator(st, std::move(done));
    }
  }

  void ToCoordinator(const std::shared_ptr<CallState>& st, ConnDone done) {
    const int8_t type = st->target.kind == Target::Kind::kGroupCoordinator ? 0 : 1;
    const std::pair<int8_t, std::string> key{type, st->target.name};
    if (auto it = coordinators_.find(key); it != coordinators_.end()) {
      return ToBroker(it->second, st->deadline, std::move(done));
    }
    protocol::FindCoordinatorRequest req;
    req.key = st->target.name;
    req.key_type = type;
    req.coordinator_keys = {st->target.name};
    RawCall call;
    call.key = protocol::ApiKey::kFindCoordinator;
    call.max_version = protocol::FindCoordinatorRequest::kMaxVersion;
    call.encode = [req](int16_t version, std::vector<uint8_t>* out) {
      protocol::EncodeMessage(req, version, out);
    };
    Start(
        Target::Any(), std::move(call),
        [this, st, key, done = std::move(done)](absl::StatusOr<RawResponse> r) {
          if (!r.ok()) return done(r.status());
          protocol::FindCoordinatorResponse resp;
          if (absl::Status s = protocol::DecodeMessage(r->body, r->version, &resp); !s.ok()) {
            return done(internal::DecodeError(resp.kName, s));
          }
          int16_t error = resp.error_code;
          BrokerInfo b{resp.node_id.value, resp.host, resp.port, std::nullopt};
          if (r->version >= 4) {
            if (resp.coordinators.empty()) {
              return done(absl::DataLossError("FindCoordinator answered no coordinator"));
            }
            const auto& c = resp.coordinators.front();
            error = c.error_code;
            b = BrokerInfo{c.node_id.value, c.host, c.port, std::nullopt};
          }
          const ErrorCode e = static_cast<ErrorCode>(error);
          if (e != ErrorCode::kNone) {
            const std::string what =
                absl::StrCat("FindCoordinator for ", st->target.name, ": ", ErrName(e));
            if (IsRoutingError(e)) return done(absl::UnavailableError(what));
            return done(absl::PermissionDeniedError(what));
          }
          cache_.brokers[b.id] = b;
          coordinators_[key] = b.id;
          ToBroker(b.id, st->deadline, done);
        },
        st->deadline);
  }

  void ToBroker(int32_t id, Clock::time_point deadline, ConnDone done) {
    if (auto it = connections_.find(id); it != connections_.end() && !it->second->closed()) {
      return done(it->second);
    }
    if (auto b = cache_.brokers.find(id); b != cache_.brokers.end()) {
      auto c = std::make_shared<Connection>(io_, options_, b->second.host, b->second.port);
      connections_[id] = c;
      return done(c);
    }
    RefreshMetadata(
        std::nullopt, deadline, [this, id, done = std::move(done)](absl::StatusOr<ClusterInfo> c) {
          if (!c.ok()) return done(c.status());
          auto b = c->brokers.find(id);
          if (b == c->brokers.end()) {
            return done(absl::NotFoundError(absl::StrCat("broker ", id, " is not in the cluster")));
          }
          auto conn = std::make_shared<Connection>(io_, options_, b->second.host, b->second.port);
          connections_[id] = conn;
          done(conn);
        });
  }

  // Any broker: a live connection first, then known brokers and bootstrap addresses in
  // turn (so a dead address is not asked twice in a row).
  absl::StatusOr<std::shared_ptr<Connection>> AnyConnection(int attempt) {
    if (attempt == 0) {
      for (auto& [id, c] : connections_) {
        if (c->ready()) return c;
      }
    }
    std::vector<std::pair<std::string, int32_t>> addresses;
    for (const auto& [id, b] : cache_.brokers) addresses.emplace_back(b.host, b.port);
    for (const std::string& a : options_.bootstrap) {
      absl::StatusOr<std::pair<std::string, int32_t>> hp = SplitAddress(a);
      if (!hp.ok()) return hp.status();
      addresses.push_back(*hp);
    }
    if (addresses.empty()) return absl::InvalidArgumentError("no bootstrap servers given");
    const auto& [host, port] = addresses[static_cast<size_t>(next_any_++) % addresses.size()];
    const std::string address = absl::StrCat(host, ":", port);
    for (auto& [id, c] : connections_) {
      if (!c->closed() && c->address() == address) return c;
    }
    auto c = std::make_shared<Connection>(io_, options_, host, port);
    connections_[--next_bootstrap_id_] = c;
    return c;
  }

  void Forget(const std::shared_ptr<Connection>& c) {
    if (!c->closed()) return;
    std::erase_if(connections_, [&](const auto& kv) { return kv.second == c; });
  }

  void Invalidate(const Target& t) {
    switch (t.kind) {
      case Target::Kind::kLeader:
        cache_.topics.erase(t.name);
        break;
      case Target::Kind::kController:
        cache_.controller = -1;
        break;
      case Target::Kind::kGroupCoordinator:
        coordinators_.erase({0, t.name});
        break;
      case Target::Kind::kTxnCoordinator:
        coordinators_.erase({1, t.name});
        break;
      default:
        break;
    }
  }

  const Options options_;
  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  // Everything below is used on the I/O thread only.
  ClusterInfo cache_;
  std::map<int32_t, std::shared_ptr<Connection>> connections_;  // bootstrap ones below 0
  std::map<std::pair<int8_t, std::string>, int32_t> coordinators_;
  int32_t next_bootstrap_id_ = -1;
  uint32_t next_any_ = 0;
  std::thread thread_;  // last: starts once the rest exists
};

Client::Client(Options options) : impl_(std::make_unique<Impl>(std::move(options))) {}
Client::~Client() = default;

const Options& Client::options() const { return impl_->options(); }

void Client::CallRaw(Target target, RawCall call,
                     std::function<void(absl::StatusOr<RawResponse>)> done) {
  impl_->Start(std::move(target), std::move(call), std::move(done));
}

absl::StatusOr<RawResponse> Client::CallRawSync(Target target, RawCall call) {
  return internal::Wait(*this, std::move(target), std::move(call));
}

absl::StatusOr<ClusterInfo> Client::Metadata(const std::vector<std::string>& topics,
                                             bool all_topics, bool auto_create) {
  std::promise<absl::StatusOr<ClusterInfo>> p;
  auto f = p.get_future();
  std::optional<std::vector<std::string>> asked;
  if (!topics.empty() || !all_topics) asked = topics;
  impl_->RefreshMetadata(
      std::move(asked), Clock::now() + impl_->options().request_timeout,
      [&p](absl::StatusOr<ClusterInfo> c) { p.set_value(std::move(c)); }, auto_create);
  return f.get();
}

namespace internal {

absl::StatusOr<RawResponse> Wait(Client& c, Target target, Client::RawCall call) {
  std::promise<absl::StatusOr<RawResponse>> p;
  auto f = p.get_future();
  c.CallRaw(std::move(target), std::move(call),
            [&p](absl::StatusOr<RawResponse> r) { p.set_value(std::move(r)); });
  return f.get();
}

absl::Status DecodeError(std::string_view name, const absl::Status& s) {
  return absl::DataLossError(absl::StrCat("malformed ", std::string(name), ": ", s.message()));
}

}  // namespace internal

}  // namespace fjord::client
