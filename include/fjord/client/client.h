#pragma once
// Fjord's Kafka client: the one fjordctl runs on, and the one replication and the
// controller will use between nodes. It speaks only the Kafka protocol, through the
// generated message types, so it works against any Kafka-compatible cluster.
//
// - Bootstrap: the first reachable address of `bootstrap` answers Metadata; after that
//   the brokers are known by id and reached at their advertised addresses.
// - One connection per broker, opened on first use and kept. Each starts with
//   ApiVersions; a request then goes at the highest version both sides support (the
//   caller's type bounds its range), or fails UNSUPPORTED_VERSION without being sent.
// - Requests on a connection are pipelined: sent as they come, answered in order.
// - Routing: any broker, a broker by id, the controller, a partition's leader, or a
//   group's or transactional id's coordinator (FindCoordinator, cached).
// - Retries: a failed connection, or an answer whose error says "ask again elsewhere or
//   later" (NOT_LEADER_OR_FOLLOWER, NOT_COORDINATOR, COORDINATOR_LOAD_IN_PROGRESS, ...),
//   is retried with exponential backoff after refreshing what routed it, until the
//   call's deadline; then the call fails with DEADLINE_EXCEEDED naming what it waited on.
// - Security hooks: `on_connect` runs after TCP connect and before ApiVersions (the place
//   for TLS and SASL handshakes once the security work lands).
//
// Threads: the client runs one I/O thread of its own. Async calls complete on it;
// blocking calls (`Call`) wait for it and must not be made from it.

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "fjord/base/types.h"
#include "fjord/protocol/api_keys.h"
#include "fjord/protocol/error_codes.h"
#include "fjord/protocol/wire.h"

namespace fjord::client {

struct Options {
  std::vector<std::string> bootstrap;  // "host:port"
  std::string client_id = "fjord-client";
  std::chrono::milliseconds request_timeout{30000};  // a call's whole deadline, retries included
  std::chrono::milliseconds connect_timeout{10000};  // one TCP connect and ApiVersions
  std::chrono::milliseconds retry_backoff{100};
  std::chrono::milliseconds retry_backoff_max{1000};
  std::chrono::milliseconds metadata_max_age{300000};
  // Runs after TCP connect; return an error to abandon the connection.
  std::function<absl::Status(int native_socket, const std::string& host)> on_connect;
};

struct BrokerInfo {
  int32_t id = -1;
  std::string host;
  int32_t port = 0;
  std::optional<std::string> rack;
};

struct PartitionInfo {
  int32_t partition = 0;
  protocol::ErrorCode error = protocol::ErrorCode::kNone;
  int32_t leader = -1;
  int32_t leader_epoch = -1;
  std::vector<int32_t> replicas;
  std::vector<int32_t> isr;
  std::vector<int32_t> offline;
};

struct TopicInfo {
  std::string name;
  protocol::Uuid id;
  protocol::ErrorCode error = protocol::ErrorCode::kNone;
  bool internal = false;
  std::vector<PartitionInfo> partitions;  // by partition index
};

// What a Metadata answer says of the cluster.
struct ClusterInfo {
  std::string cluster_id;
  int32_t controller = -1;
  std::map<int32_t, BrokerInfo> brokers;
  std::map<std::string, TopicInfo> topics;
};

// Where a request goes.
struct Target {
  enum class Kind { kAny, kBroker, kController, kLeader, kGroupCoordinator, kTxnCoordinator };
  Kind kind = Kind::kAny;
  int32_t broker = -1;
  std::string name;  // topic (kLeader), group id or transactional id
  int32_t partition = -1;

  static Target Any() { return {}; }
  static Target Broker(int32_t id) { return {Kind::kBroker, id, "", -1}; }
  static Target Controller() { return {Kind::kController, -1, "", -1}; }
  static Target Leader(std::string topic, int32_t partition) {
    return {Kind::kLeader, -1, std::move(topic), partition};
  }
  static Target Group(std::string group) {
    return {Kind::kGroupCoordinator, -1, std::move(group), -1};
  }
  static Target Txn(std::string id) { return {Kind::kTxnCoordinator, -1, std::move(id), -1}; }
  std::string ToString() const;
};

// A response's body, undecoded, and the version it was sent at.
struct RawResponse {
  int16_t version = 0;
  std::vector<uint8_t> body;
};

// How a typed call decides whether an answer must be retried after a re-route: the
// error that sent it back (NONE: the answer stands).
template <typename Response>
using RetryCheck = std::function<protocol::ErrorCode(const Response&)>;

// Errors after which asking again (after a metadata or coordinator refresh) can succeed.
bool IsRoutingError(protocol::ErrorCode e);

// For answers shaped topics[].partitions[] (ListOffsets, DeleteRecords, OffsetCommit, ...):
// the first routing error of any partition, so the call is asked again after re-routing.
template <typename Response>
RetryCheck<Response> PartitionRetry() {
  return [](const Response& r) {
    for (const auto& t : r.topics) {
      for (const auto& p : t.partitions) {
        const auto e = static_cast<protocol::ErrorCode>(p.error_code);
        if (IsRoutingError(e)) return e;
      }
    }
    return protocol::ErrorCode::kNone;
  };
}

class Client {
 public:
  explicit Client(Options options);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // The raw form every typed call uses. `encode(version, out)` writes the body at the
  // negotiated version (within [min_version, max_version]); `retry(version, body)` returns
  // the routing error that asks for a retry, or NONE.
  struct RawCall {
    protocol::ApiKey key;
    int16_t min_version = 0;
    int16_t max_version = 0;
    std::function<void(int16_t version, std::vector<uint8_t>* out)> encode;
    std::function<protocol::ErrorCode(int16_t version, std::span<const uint8_t> body)> retry;
    bool expects_response = true;  // false: Produce with acks=0
    // The call's deadline, retries included; zero: Options::request_timeout. Calls the
    // broker may hold on purpose (JoinGroup waits for the rebalance) set a longer one.
    std::chrono::milliseconds timeout{0};
  };
  void CallRaw(Target target, RawCall call, std::function<void(absl::StatusOr<RawResponse>)> done);

  // CallRaw, blocking: for answers whose records must outlive the decode (Fetch), decoded
  // by the caller from the returned body.
  absl::StatusOr<RawResponse> CallRawSync(Target target, RawCall call);
  // A RawCall that encodes `request` (which must outlive the call) at its own versions.
  template <typename Request>
  static RawCall RawCallOf(const Request& request, int16_t max_version = Request::kMaxVersion,
                           int16_t min_version = Request::kMinVersion);

  // Sends `request` to `target` and decodes the answer; blocking.
  template <typename Response, typename Request>
  absl::StatusOr<Response> Call(Target target, const Request& request,
                                RetryCheck<Response> retry = nullptr,
                                int16_t max_version = Request::kMaxVersion,
                                int16_t min_version = Request::kMinVersion);
  // Call with its own deadline (see RawCall::timeout).
  template <typename Response, typename Request>
  absl::StatusOr<Response> CallWithin(std::chrono::milliseconds timeout, Target target,
                                      const Request& request, RetryCheck<Response> retry = nullptr);

  // The cluster as a Metadata request for `topics` (all topics when empty) sees it now;
  // refreshes the routing cache too. `auto_create`: ask the broker to create missing
  // topics, as producers do (auto.create.topics.enable decides).
  absl::StatusOr<ClusterInfo> Metadata(const std::vector<std::string>& topics = {},
                                       bool all_topics = true, bool auto_create = false);
  const Options& options() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

// ---- template implementation ----

namespace internal {
absl::StatusOr<RawResponse> Wait(Client& c, Target target, Client::RawCall call);
absl::Status DecodeError(std::string_view name, const absl::Status& s);
template <typename Response>
absl::StatusOr<Response> TypedCall(Client& client, Target target, Client::RawCall call,
                                   RetryCheck<Response> retry);
}  // namespace internal

template <typename Request>
Client::RawCall Client::RawCallOf(const Request& request, int16_t max_version,
                                  int16_t min_version) {
  RawCall call;
  call.key = Request::kApiKey;
  call.min_version = min_version;
  call.max_version = max_version;
  call.encode = [&request](int16_t version, std::vector<uint8_t>* out) {
    protocol::EncodeMessage(request, version, out);
  };
  return call;
}

template <typename Response, typename Request>
absl::StatusOr<Response> Client::Call(Target target, const Request& request,
                                      RetryCheck<Response> retry, int16_t max_version,
                                      int16_t min_version) {
  return internal::TypedCall<Response>(*this, std::move(target),
                                       RawCallOf(request, max_version, min_version), retry);
}

template <typename Response, typename Request>
absl::StatusOr<Response> Client::CallWithin(std::chrono::milliseconds timeout, Target target,
                                            const Request& request, RetryCheck<Response> retry) {
  RawCall call = RawCallOf(request);
  call.timeout = timeout;
  return internal::TypedCall<Response>(*this, std::move(target), std::move(call), retry);
}

namespace internal {
template <typename Response>
absl::StatusOr<Response> TypedCall(Client& client, Target target, Client::RawCall call,
                                   RetryCheck<Response> retry) {
  if (retry) {
    call.retry = [retry](int16_t version, std::span<const uint8_t> body) {
      Response r;
      if (!protocol::DecodeMessage(body, version, &r).ok()) return protocol::ErrorCode::kNone;
      return retry(r);
    };
  }
  absl::StatusOr<RawResponse> raw = Wait(client, std::move(target), std::move(call));
  if (!raw.ok()) return raw.status();
  Response out;
  if (absl::Status s = protocol::DecodeMessage(raw->body, raw->version, &out); !s.ok()) {
    return DecodeError(Response::kName, s);
  }
  return out;
}
}  // namespace internal

}  // namespace fjord::client
