#pragma once
// The partitions this node hosts, spread over the event loops. A partition belongs to the
// loop LoopOf(tp) for its whole life; only that loop touches it, so the produce and fetch
// paths take no locks (principle 3). The metadata publisher keeps the set in line with
// each new MetadataImage: it opens or creates logs off the loops, then posts the Partition
// objects to their loops.

#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "fjord/base/types.h"
#include "fjord/cluster/partition.h"
#include "fjord/config/broker_config.h"
#include "fjord/metadata/metadata_image.h"
#include "fjord/net/event_loops.h"
#include "fjord/storage/log_manager.h"

namespace fjord::cluster {

class ReplicaManager {
 public:
  ReplicaManager(net::EventLoops& loops, storage::LogManager& logs,
                 const config::BrokerConfig& config, NodeId node_id);
  ~ReplicaManager();
  ReplicaManager(const ReplicaManager&) = delete;
  ReplicaManager& operator=(const ReplicaManager&) = delete;

  size_t LoopOf(const storage::TopicPartition& tp) const;
  // The partition on the calling loop, which must be LoopOf(tp); nullptr when this node
  // does not host it.
  Partition* Get(const storage::TopicPartition& tp);

  // Brings the hosted partitions in line with `image`: opens or creates the logs of new
  // partitions, applies topic config changes, deletes the logs of deleted topics, and
  // installs / removes Partition objects on their loops, waiting until each loop has done
  // so. Call off the loops (the metadata publisher runs on the controller thread), with
  // the loops running. A partition whose log cannot be opened (out of descriptors, a
  // failing disk) is offline: logged with its error, reported by OfflinePartitions(), and
  // tried again with every image and every kOfflineRetryInterval.
  void ApplyImage(std::shared_ptr<const metadata::MetadataImage> image);

  // Partitions this node should host but could not open, with why. Any thread.
  using OfflineMap = std::map<storage::TopicPartition, std::string>;
  std::shared_ptr<const OfflineMap> OfflinePartitions() const;
  bool IsOffline(const storage::TopicPartition& tp) const;

  // Retries offline partitions in the background until Shutdown.
  void StartRetrying();
  static constexpr std::chrono::seconds kOfflineRetryInterval{5};

  // Removes every partition from the loops (before the LogManager shuts down). Off-loop.
  void Shutdown();

  storage::LogManager& log_manager() { return logs_; }
  NodeId node_id() const { return node_id_; }

 private:
  struct Hosted {
    protocol::Uuid topic_id;
    std::map<std::string, std::string> configs;
    PartitionState state;
  };
  using LoopPartitions = std::map<storage::TopicPartition, std::shared_ptr<Partition>>;
  // Runs each loop's batch of changes on that loop and waits for all of them.
  void RunOnLoops(std::vector<std::vector<std::function<void(LoopPartitions&)>>> work);
  void ApplyImageLocked(const metadata::MetadataImage& image);
  void PublishOffline(OfflineMap offline);
  void StopRetrying();

  net::EventLoops& loops_;
  storage::LogManager& logs_;
  const config::BrokerConfig& config_;
  NodeId node_id_;
  std::vector<LoopPartitions> per_loop_;              // per_loop_[i] touched only on loop i
  std::mutex apply_mu_;                               // one ApplyImage at a time
  std::map<storage::TopicPartition, Hosted> hosted_;  // guarded by apply_mu_
  bool strays_checked_ = false;                       // guarded by apply_mu_
  std::shared_ptr<const metadata::MetadataImage> last_image_;  // guarded by apply_mu_

  mutable std::mutex offline_mu_;
  std::shared_ptr<const OfflineMap> offline_;  // guarded by offline_mu_; never null

  std::mutex retry_mu_;
  std::condition_variable retry_cv_;
  bool retry_stop_ = false;  // guarded by retry_mu_
  std::thread retry_thread_;
};

}  // namespace fjord::cluster
