#include "node.h"

#include <sys/resource.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "absl/strings/str_cat.h"
#include "fjord/base/clock.h"
#include "fjord/base/logging.h"
#include "fjord/base/strings.h"
#include "fjord/cluster/replica_manager.h"
#include "fjord/config/listener.h"
#include "fjord/config/topic_config.h"
#include "fjord/controller/quorum_controller.h"
#include "fjord/metadata/metadata_image.h"
#include "fjord/net/event_loops.h"
#include "fjord/raft/raft_client.h"
#include "fjord/server/kafka_apis.h"
#include "fjord/storage/file_system.h"
#include "fjord/storage/log_manager.h"
#include "fjord/storage/meta_properties.h"

namespace fjord::app {
namespace {

spdlog::logger& Logger() {
  static spdlog::logger& logger = NamedLogger("fjord");
  return logger;
}

absl::StatusOr<std::vector<net::ListenerSpec>> ListenerSpecs(const config::BrokerConfig& c,
                                                             const char* key) {
  std::optional<std::string> raw = c.GetRaw(key);
  if (!raw.has_value()) return std::vector<net::ListenerSpec>{};
  absl::StatusOr<std::vector<config::Listener>> parsed =
      config::ParseListeners(*raw, c.GetString("listener.security.protocol.map"));
  if (!parsed.ok()) return parsed.status();
  std::vector<net::ListenerSpec> out;
  for (const config::Listener& l : *parsed) {
    out.push_back(
        net::ListenerSpec{l.name, l.host, l.port, static_cast<int16_t>(l.security_protocol)});
  }
  return out;
}

// Every partition and connection holds descriptors: take the most the hard limit allows,
// as Kafka's packaging does with LimitNOFILE.
void RaiseFileLimit() {
  rlimit lim{};
  if (::getrlimit(RLIMIT_NOFILE, &lim) != 0) return;
  if (lim.rlim_cur < lim.rlim_max) {
    rlimit raised = lim;
    raised.rlim_cur = lim.rlim_max;
    if (::setrlimit(RLIMIT_NOFILE, &raised) == 0) lim = raised;
  }
  Logger().info("open file limit: {}", static_cast<uint64_t>(lim.rlim_cur));
}

}  // namespace

struct Node::Parts {
  std::unique_ptr<storage::LogManager> logs;
  std::unique_ptr<raft::SingleVoterRaft> raft;
  std::unique_ptr<net::EventLoops> loops;
  std::unique_ptr<cluster::ReplicaManager> replicas;
  std::unique_ptr<controller::QuorumController> controller;
  std::unique_ptr<server::KafkaApis> apis;
  std::unique_ptr<net::Server> server;
  // Told of each new image's deleted topics, from the controller thread, once set.
  std::atomic<server::KafkaApis*> apis_for_images{nullptr};
};

namespace {

// Topics of `prev` that `next` no longer has (by id: a name deleted and created again
// counts as deleted).
std::vector<std::string> DeletedTopics(const metadata::MetadataImage* prev,
                                       const metadata::MetadataImage& next) {
  std::vector<std::string> out;
  if (prev == nullptr) return out;
  for (const auto& [name, topic] : prev->topics()) {
    if (next.TopicById(topic->id) == nullptr) out.push_back(name);
  }
  return out;
}

}  // namespace

Node::Node(config::BrokerConfig config) : config_(std::move(config)) {}

Node::~Node() { Stop(); }

absl::Status Node::Start() {
  RaiseFileLimit();
  parts_ = std::make_unique<Parts>();
  Parts& p = *parts_;
  storage::FileSystem& fs = storage::PosixFileSystem();
  Clock& clock = SystemClock();
  const NodeId node_id(config_.GetInt("node.id"));
  if (node_id.value < 0) {
    return absl::InvalidArgumentError("node.id must be set (>= 0) for a KRaft-style node");
  }

  // Only PLAINTEXT is served today; say so rather than accept and misbehave.
  absl::StatusOr<std::vector<net::ListenerSpec>> specs = ListenerSpecs(config_, "listeners");
  if (!specs.ok()) return specs.status();
  if (specs->empty()) return absl::InvalidArgumentError("listeners: at least one is needed");
  for (const net::ListenerSpec& s : *specs) {
    if (s.security_protocol != static_cast<int16_t>(config::SecurityProtocol::kPlaintext)) {
      return absl::UnimplementedError(
          absl::StrCat("listener ", s.name, ": security protocol ",
                       Absl(config::SecurityProtocolName(
                           static_cast<config::SecurityProtocol>(s.security_protocol))),
                       " is not supported yet (only PLAINTEXT)"));
    }
  }

  // Data dirs and meta.properties (the cluster id is made once, on first start).
  std::vector<std::string> dirs = config_.LogDirs();
  std::string metadata_dir = config_.GetString("metadata.log.dir");
  if (metadata_dir.empty()) metadata_dir = dirs.front();
  std::vector<std::string> all_dirs = dirs;
  if (std::find(all_dirs.begin(), all_dirs.end(), metadata_dir) == all_dirs.end()) {
    all_dirs.push_back(metadata_dir);
  }
  for (const std::string& d : all_dirs) {
    if (absl::Status s = fs.CreateDirs(d); !s.ok()) {
      return absl::Status(s.code(), absl::StrCat("data dir ", d, ": ", s.message()));
    }
  }
  absl::StatusOr<std::string> cluster_id =
      storage::EnsureMetaProperties(fs, all_dirs, node_id, storage::NewRandomUuidText());
  if (!cluster_id.ok()) return cluster_id.status();
  cluster_id_ = *cluster_id;

  // Partition logs.
  storage::LogManagerConfig lm;
  lm.log_dirs = dirs;
  lm.num_recovery_threads_per_data_dir = config_.GetInt("num.recovery.threads.per.data.dir");
  lm.retention_check_interval_ms = config_.GetLong("log.retention.check.interval.ms");
  lm.producer_id_expiration_ms = config_.GetInt("producer.id.expiration.ms");
  lm.producer_id_expiration_check_interval_ms =
      config_.GetInt("producer.id.expiration.check.interval.ms");
  lm.flush_scheduler_interval_ms = config_.GetLong("log.flush.scheduler.interval.ms");
  lm.recovery_point_checkpoint_interval_ms =
      config_.GetLong("log.flush.offset.checkpoint.interval.ms");
  lm.log_start_offset_checkpoint_interval_ms =
      config_.GetLong("log.flush.start.offset.checkpoint.interval.ms");
  absl::StatusOr<storage::LogConfig> defaults = config::MakeLogConfig(config_, {});
  if (!defaults.ok()) return defaults.status();
  lm.default_config = *defaults;
  absl::StatusOr<std::unique_ptr<storage::LogManager>> logs =
      storage::LogManager::Open(fs, clock, std::move(lm));
  if (!logs.ok()) return logs.status();
  p.logs = std::move(*logs);

  // The metadata quorum (one voter: this node).
  absl::StatusOr<std::unique_ptr<raft::SingleVoterRaft>> raft =
      raft::SingleVoterRaft::Open({&fs, &clock, metadata_dir, node_id});
  if (!raft.ok()) return raft.status();
  p.raft = std::move(*raft);

  // Loops first: publishing an image installs partitions on them.
  int threads = config_.GetInt("num.event.loop.threads");
  if (threads <= 0) threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  p.loops = std::make_unique<net::EventLoops>(static_cast<size_t>(threads));
  p.loops->Start();
  p.replicas = std::make_unique<cluster::ReplicaManager>(*p.loops, *p.logs, config_, node_id);
  cluster::ReplicaManager* replicas = p.replicas.get();
  p.controller = std::make_unique<controller::QuorumController>(
      p.raft.get(),
      [replicas, &p, prev = std::shared_ptr<const metadata::MetadataImage>()](
          std::shared_ptr<const metadata::MetadataImage> image) mutable {
        replicas->ApplyImage(image);
        std::vector<std::string> deleted = DeletedTopics(prev.get(), *image);
        prev = image;
        server::KafkaApis* apis = p.apis_for_images.load();
        if (apis != nullptr && !deleted.empty()) apis->OnTopicsDeleted(std::move(deleted));
      },
      controller::QuorumController::Options{node_id, &config_});

  server::BrokerServices services;
  services.loops = p.loops.get();
  services.replicas = p.replicas.get();
  services.controller = p.controller.get();
  services.config = &config_;
  services.clock = &clock;
  services.node_id = node_id;
  services.cluster_id = cluster_id_;
  p.apis = std::make_unique<server::KafkaApis>(services);
  p.apis_for_images.store(p.apis.get());
  net::ConnectionLimits limits;
  limits.max_frame_bytes = config_.GetInt("socket.request.max.bytes");
  limits.max_idle_ms = config_.GetLong("connections.max.idle.ms");
  limits.max_inflight_requests = config_.GetInt("queued.max.requests");
  limits.max_queued_request_bytes = config_.GetLong("queued.max.request.bytes");
  limits.max_inflight_bytes = 2 * static_cast<int64_t>(limits.max_frame_bytes);
  limits.send_buffer_bytes = config_.GetInt("socket.send.buffer.bytes");
  limits.receive_buffer_bytes = config_.GetInt("socket.receive.buffer.bytes");
  limits.max_connections = config_.GetInt("max.connections");
  limits.max_connections_per_ip = config_.GetInt("max.connections.per.ip");
  p.server = std::make_unique<net::Server>(*p.loops, *p.apis, limits);
  absl::StatusOr<std::vector<net::BoundListener>> bound = p.server->Listen(*specs);
  if (!bound.ok()) return bound.status();
  listeners_ = *bound;

  // Advertised endpoints: advertised.listeners, else the bound listeners (port 0 resolved).
  absl::StatusOr<std::vector<net::ListenerSpec>> advertised =
      ListenerSpecs(config_, "advertised.listeners");
  if (!advertised.ok()) return advertised.status();
  std::vector<metadata::BrokerEndpoint> endpoints;
  for (const net::BoundListener& b : listeners_) {
    metadata::BrokerEndpoint e{b.spec.name, b.spec.host, b.spec.port, b.spec.security_protocol};
    for (const net::ListenerSpec& a : *advertised) {
      if (a.name != b.spec.name) continue;
      e.host = a.host;
      e.port = a.port != 0 ? a.port : b.spec.port;
    }
    if (e.host.empty() || e.host == "0.0.0.0") e.host = "127.0.0.1";
    endpoints.push_back(std::move(e));
  }
  if (absl::Status s = p.controller->Start(endpoints); !s.ok()) return s;
  p.logs->StartBackgroundTasks();
  p.replicas->StartRetrying();
  p.server->StartAccepting();
  started_ = true;
  return absl::OkStatus();
}

void Node::Stop() {
  if (!parts_) return;
  Parts& p = *parts_;
  if (p.server) {
    p.server->StopAccepting();
    if (p.apis) p.apis->BeginShutdown();
    const auto deadline = std::chrono::steady_clock::now() +
                          std::chrono::milliseconds(config_.GetLong("shutdown.timeout.ms"));
    while (p.server->PendingWork() > 0 && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    if (p.server->PendingWork() > 0) {
      Logger().warn("shutdown.timeout.ms passed with {} requests unanswered; closing anyway",
                    p.server->PendingWork());
    }
  }
  if (p.controller) p.controller->Stop();
  p.apis_for_images.store(nullptr);
  if (p.server) p.server->CloseAll();
  if (p.replicas && p.loops) p.replicas->Shutdown();
  if (p.loops) p.loops->Stop();
  p.server.reset();
  p.apis.reset();
  p.controller.reset();
  p.replicas.reset();
  if (p.raft) {
    if (absl::Status s = p.raft->Close(); !s.ok()) {
      Logger().error("closing the metadata log: {}", s.message());
    }
  }
  if (p.logs) {
    if (absl::Status s = p.logs->Shutdown(); !s.ok()) {
      Logger().error("log shutdown: {}", s.message());
    }
  }
  parts_.reset();
}

}  // namespace fjord::app
