#include "fjord/server/kafka_apis.h"

#include <atomic>
#include <set>

#include "absl/strings/str_cat.h"
#include "broker.h"
#include "fjord/base/strings.h"
#include "fjord/config/broker_config.h"
#include "fjord/protocol/request_frame.h"

namespace fjord::server {

Broker::Broker(BrokerServices services)
    : s(std::move(services)),
      fetch_sessions(std::make_unique<FetchSessionCache>(
          static_cast<size_t>(s.config->GetInt("max.incremental.fetch.session.cache.slots")),
          *s.clock)),
      groups(std::make_unique<coordinator::GroupCoordinator>(*s.loops, *s.replicas, *s.controller,
                                                             *s.config, *s.clock)),
      producer_ids(std::make_unique<ProducerIdSource>(*s.controller)),
      txns(std::make_unique<coordinator::TxnCoordinator>(
          *s.loops, *s.replicas, *s.controller, *s.config, *s.clock, *groups,
          [ids = producer_ids.get()](std::function<void(absl::StatusOr<int64_t>)> done) {
            ids->Next(std::move(done));
          })),
      produce_order(std::make_unique<ProduceOrder>(s.loops->size())),
      workers(std::make_unique<WorkerPool>(static_cast<size_t>(s.config->GetInt("num.io.threads")),
                                           "fjord-io")) {}

KafkaApis::KafkaApis(BrokerServices services)
    : broker_(std::make_unique<Broker>(std::move(services))) {}

void KafkaApis::BeginShutdown() {
  broker_->txns->Shutdown();
  broker_->groups->Shutdown();
}

void KafkaApis::OnTopicsDeleted(std::vector<std::string> topics) {
  broker_->groups->OnTopicsDeleted(*broker_->image(),
                                   std::set<std::string>(topics.begin(), topics.end()));
}

KafkaApis::~KafkaApis() = default;

void KafkaApis::Handle(const net::RequestContext& ctx, ByteBuffer frame,
                       std::function<void(net::Reply)> done) {
  auto r = std::make_shared<Request>();
  r->conn = ctx;
  r->frame = std::make_shared<ByteBuffer>(std::move(frame));
  protocol::RequestFrame rf;
  absl::Status s = protocol::ParseRequestFrame(*r->frame, &rf);
  if (!s.ok()) {
    // Kafka closes the connection on a header it cannot parse or an unknown API key.
    done(net::Reply::Close(absl::IsNotFound(s)
                               ? std::string(s.message())
                               : absl::StrCat("malformed request header: ", s.message())));
    return;
  }
  const ServedApi* served = FindServedApi(static_cast<int16_t>(rf.api->key));
  if (served == nullptr) {
    done(net::Reply::Close(absl::StrCat(Absl(rf.api->name), " (key ", static_cast<int>(rf.api->key),
                                        ") is not served by this broker")));
    return;
  }
  r->api = rf.api;
  r->version = rf.version;
  r->correlation_id = rf.header.correlation_id;
  r->client_id = rf.header.client_id;
  r->body = rf.body;
  r->done = std::move(done);
  if (rf.version < served->served_min || rf.version > served->max) {
    if (served->key == protocol::ApiKey::kApiVersions) {
      // KIP-511: answer in v0 with UNSUPPORTED_VERSION so the client can retry lower.
      RespondUnsupportedApiVersions(*broker_, std::move(r));
      return;
    }
    r->done(net::Reply::Close(absl::StrCat(Absl(rf.api->name), " v", rf.version,
                                           " is not supported (this broker serves v",
                                           served->served_min, "-v", served->max, ")")));
    return;
  }
  served->handle(*broker_, std::move(r));
}

protocol::ErrorCode Broker::NotServedError(const storage::TopicPartition& tp) const {
  return s.replicas->IsOffline(tp) ? protocol::ErrorCode::kKafkaStorageError
                                   : protocol::ErrorCode::kNotLeaderOrFollower;
}

void Broker::ForEachPartition(size_t home, const std::vector<storage::TopicPartition>& tps,
                              std::function<void(size_t, cluster::Partition*)> fn,
                              std::function<void()> done) {
  net::EventLoops& loops = *s.loops;
  std::vector<std::vector<size_t>> by_loop(loops.size());
  for (size_t i = 0; i < tps.size(); ++i) by_loop[s.replicas->LoopOf(tps[i])].push_back(i);
  size_t groups = 0;
  for (const auto& g : by_loop) groups += g.empty() ? 0 : 1;
  if (groups == 0) {
    loops.Post(home, [done = std::move(done)] { done(); });
    return;
  }
  struct Shared {
    std::atomic<size_t> remaining;
    std::function<void(size_t, cluster::Partition*)> fn;
    std::function<void()> done;
    std::vector<storage::TopicPartition> tps;
  };
  auto shared = std::make_shared<Shared>();
  shared->remaining.store(groups);
  shared->fn = std::move(fn);
  shared->done = std::move(done);
  shared->tps = tps;
  for (size_t loop = 0; loop < by_loop.size(); ++loop) {
    if (by_loop[loop].empty()) continue;
    loops.Post(loop, [this, shared, home, items = std::move(by_loop[loop])] {
      for (size_t i : items) shared->fn(i, s.replicas->Get(shared->tps[i]));
      if (shared->remaining.fetch_sub(1) == 1) {
        s.loops->Post(home, [shared] { shared->done(); });
      }
    });
  }
}

}  // namespace fjord::server
