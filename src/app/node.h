#pragma once
// One Fjord node, wired: storage, the metadata quorum and controller, the partitions, the
// event loops and the Kafka listeners. Start() brings it up in dependency order; Stop()
// takes it down in reverse, gracefully (stop accepting, finish in-flight requests within
// shutdown.timeout.ms, flush, write the clean-shutdown marker).

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "fjord/config/broker_config.h"
#include "fjord/net/server.h"

namespace fjord::app {

class Node {
 public:
  explicit Node(config::BrokerConfig config);
  ~Node();

  absl::Status Start();
  // The listeners as bound (ports resolved) once Start() succeeded.
  const std::vector<net::BoundListener>& listeners() const { return listeners_; }
  const std::string& cluster_id() const { return cluster_id_; }
  void Stop();

 private:
  struct Parts;
  config::BrokerConfig config_;
  std::unique_ptr<Parts> parts_;
  std::vector<net::BoundListener> listeners_;
  std::string cluster_id_;
  bool started_ = false;
};

}  // namespace fjord::app
