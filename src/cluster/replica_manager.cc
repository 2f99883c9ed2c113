#include "fjord/cluster/replica_manager.h"

#include <latch>
#include <set>

#include "absl/hash/hash.h"
#include "absl/strings/numbers.h"
#include "fjord/base/logging.h"
#include "fjord/config/topic_config.h"

namespace fjord::cluster {
namespace {

spdlog::logger& Logger() {
  static spdlog::logger& logger = NamedLogger("cluster");
  return logger;
}

int32_t MinInsyncReplicas(const config::BrokerConfig& broker,
                          const std::map<std::string, std::string>& overrides) {
  auto it = overrides.find("min.insync.replicas");
  int32_t v = 0;
  if (it != overrides.end() && absl::SimpleAtoi(it->second, &v)) return v;
  return broker.GetInt("min.insync.replicas");
}

}  // namespace

ReplicaManager::ReplicaManager(net::EventLoops& loops, storage::LogManager& logs,
                               const config::BrokerConfig& config, NodeId node_id)
    : loops_(loops),
      logs_(logs),
      config_(config),
      node_id_(node_id),
      per_loop_(loops.size()),
      offline_(std::make_shared<const OfflineMap>()) {}

std::shared_ptr<const ReplicaManager::OfflineMap> ReplicaManager::OfflinePartitions() const {
  std::lock_guard<std::mutex> lock(offline_mu_);
  return offline_;
}

bool ReplicaManager::IsOffline(const storage::TopicPartition& tp) const {
  std::shared_ptr<const OfflineMap> offline = OfflinePartitions();
  return offline->contains(tp);
}

void ReplicaManager::PublishOffline(OfflineMap offline) {
  auto next = std::make_shared<const OfflineMap>(std::move(offline));
  std::lock_guard<std::mutex> lock(offline_mu_);
  offline_ = std::move(next);
}

void ReplicaManager::StartRetrying() {
  if (retry_thread_.joinable()) return;
  retry_thread_ = std::thread([this] {
    std::unique_lock<std::mutex> lock(retry_mu_);
    while (!retry_cv_.wait_for(lock, kOfflineRetryInterval, [this] { return retry_stop_; })) {
      lock.unlock();
      if (!OfflinePartitions()->empty()) {
        std::lock_guard<std::mutex> apply(apply_mu_);
        if (last_image_) ApplyImageLocked(*last_image_);
      }
      lock.lock();
    }
  });
}

size_t ReplicaManager::LoopOf(const storage::TopicPartition& tp) const {
  return absl::HashOf(tp.topic, tp.partition.value) % per_loop_.size();
}

Partition* ReplicaManager::Get(const storage::TopicPartition& tp) {
  int loop = net::EventLoops::CurrentLoop();
  if (loop < 0 || static_cast<size_t>(loop) != LoopOf(tp)) return nullptr;
  LoopPartitions& parts = per_loop_[static_cast<size_t>(loop)];
  auto it = parts.find(tp);
  return it == parts.end() ? nullptr : it->second.get();
}

void ReplicaManager::RunOnLoops(
    std::vector<std::vector<std::function<void(LoopPartitions&)>>> work) {
  std::ptrdiff_t busy = 0;
  for (const auto& w : work) busy += w.empty() ? 0 : 1;
  if (busy == 0) return;
  std::latch done(busy);
  for (size_t i = 0; i < work.size(); ++i) {
    if (work[i].empty()) continue;
    loops_.Post(i, [this, i, &done, fns = std::move(work[i])]() {
      for (const auto& fn : fns) fn(per_loop_[i]);
      done.count_down();
    });
  }
  done.wait();
}

void ReplicaManager::ApplyImage(std::shared_ptr<const metadata::MetadataImage> image) {
  std::lock_guard<std::mutex> lock(apply_mu_);
  last_image_ = std::move(image);
  ApplyImageLocked(*last_image_);
}

void ReplicaManager::ApplyImageLocked(const metadata::MetadataImage& image) {
  std::vector<std::vector<std::function<void(LoopPartitions&)>>> work(per_loop_.size());
  std::set<storage::TopicPartition> present;
  std::shared_ptr<const OfflineMap> was_offline = OfflinePartitions();
  OfflineMap offline;

  for (const auto& [name, topic] : image.topics()) {
    const std::map<std::string, std::string>& configs = image.TopicConfigs(name);
    absl::StatusOr<storage::LogConfig> log_config = config::MakeLogConfig(config_, configs);
    if (!log_config.ok()) {
      Logger().error("topic {}: bad config in the metadata log: {}", name,
                     log_config.status().message());
      continue;
    }
    for (const metadata::PartitionImage& p : topic->partitions) {
      if (std::find(p.replicas.begin(), p.replicas.end(), node_id_) == p.replicas.end()) continue;
      storage::TopicPartition tp{name, p.partition};
      present.insert(tp);
      PartitionState state{p.leader_epoch, p.leader, p.replicas, p.isr,
                           MinInsyncReplicas(config_, configs)};
      size_t loop = LoopOf(tp);
      auto it = hosted_.find(tp);
      if (it != hosted_.end() && !(it->second.topic_id == topic->id)) {
        // Same name, new topic: the old one was deleted while we were not looking.
        work[loop].push_back([tp](LoopPartitions& parts) { parts.erase(tp); });
        RunOnLoops(std::exchange(work, decltype(work)(per_loop_.size())));
        if (absl::Status s = logs_.DeleteLog(tp); !s.ok() && !absl::IsNotFound(s)) {
          Logger().error("deleting the old log of {}: {}", tp.DirName(), s.message());
        }
        hosted_.erase(it);
        it = hosted_.end();
      }
      if (it == hosted_.end()) {
        absl::StatusOr<std::shared_ptr<storage::Log>> log = logs_.GetOrCreateLog(tp, *log_config);
        if (!log.ok()) {
          std::string error(log.status().message());
          // Logged once per partition and error, not at every retry.
          auto before = was_offline->find(tp);
          if (before == was_offline->end() || before->second != error) {
            Logger().error("partition {} is offline: cannot open its log: {}", tp.DirName(), error);
          }
          offline.emplace(tp, std::move(error));
          continue;
        }
        if (was_offline->contains(tp)) Logger().info("partition {} is online again", tp.DirName());
        (*log)->UpdateConfig(*log_config);
        auto partition = std::make_shared<Partition>(tp, topic->id, *log, node_id_, state);
        work[loop].push_back([tp, partition](LoopPartitions& parts) { parts[tp] = partition; });
        hosted_[tp] = Hosted{topic->id, configs, state};
        continue;
      }
      Hosted& h = it->second;
      if (h.configs != configs) {
        if (std::shared_ptr<storage::Log> log = logs_.GetLog(tp)) log->UpdateConfig(*log_config);
        h.configs = configs;
      }
      if (h.state.leader_epoch != state.leader_epoch || h.state.isr != state.isr ||
          h.state.replicas != state.replicas || h.state.leader != state.leader ||
          h.state.min_insync_replicas != state.min_insync_replicas) {
        work[loop].push_back([tp, state](LoopPartitions& parts) {
          auto p = parts.find(tp);
          if (p != parts.end()) p->second->UpdateState(state);
        });
        h.state = state;
      }
    }
  }

  std::vector<storage::TopicPartition> removed;
  for (const auto& [tp, h] : hosted_) {
    if (!present.count(tp)) removed.push_back(tp);
  }
  for (const storage::TopicPartition& tp : removed) {
    work[LoopOf(tp)].push_back([tp](LoopPartitions& parts) { parts.erase(tp); });
  }
  RunOnLoops(std::move(work));
  // Installed above, so a client told "online" finds the partition on its loop.
  PublishOffline(std::move(offline));
  for (const storage::TopicPartition& tp : removed) {
    hosted_.erase(tp);
    if (absl::Status s = logs_.DeleteLog(tp); !s.ok() && !absl::IsNotFound(s)) {
      Logger().error("deleting the log of {}: {}", tp.DirName(), s.message());
    }
  }
  if (!strays_checked_) {
    // Logs on disk that the metadata does not know (their topic was deleted and the
    // deletion did not reach the disk before a crash): delete them, as Kafka does.
    strays_checked_ = true;
    for (const storage::TopicPartition& tp : logs_.Partitions()) {
      if (present.count(tp)) continue;
      Logger().warn("deleting stray log {}: no such partition in the metadata", tp.DirName());
      if (absl::Status s = logs_.DeleteLog(tp); !s.ok()) {
        Logger().error("deleting stray log {}: {}", tp.DirName(), s.message());
      }
    }
  }
}

void ReplicaManager::StopRetrying() {
  {
    std::lock_guard<std::mutex> lock(retry_mu_);
    retry_stop_ = true;
  }
  retry_cv_.notify_all();
  if (retry_thread_.joinable()) retry_thread_.join();
}

ReplicaManager::~ReplicaManager() { StopRetrying(); }

void ReplicaManager::Shutdown() {
  StopRetrying();
  std::lock_guard<std::mutex> lock(apply_mu_);
  std::vector<std::vector<std::function<void(LoopPartitions&)>>> work(per_loop_.size());
  for (auto& w : work) w.push_back([](LoopPartitions& parts) { parts.clear(); });
  RunOnLoops(std::move(work));
  hosted_.clear();
}

}  // namespace fjord::cluster
