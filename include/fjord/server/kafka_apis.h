#pragma once
// The Kafka API layer of a broker: takes request frames from net::Server, parses the
// header, checks the API and version against what this broker serves, and hands the
// request to its handler (one file per API family in src/server/). Replies go back
// through the connection in request order.
//
// Threading: Handle runs on the connection's loop. Handlers route partition work to the
// partitions' loops and admin commands to the controller thread, and complete from there.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "fjord/base/clock.h"
#include "fjord/base/types.h"
#include "fjord/net/server.h"

namespace fjord::config {
class BrokerConfig;
}
namespace fjord::cluster {
class ReplicaManager;
}
namespace fjord::controller {
class QuorumController;
}

namespace fjord::server {

struct BrokerServices {
  net::EventLoops* loops = nullptr;
  cluster::ReplicaManager* replicas = nullptr;
  controller::QuorumController* controller = nullptr;
  const config::BrokerConfig* config = nullptr;
  Clock* clock = nullptr;
  NodeId node_id{1};
  std::string cluster_id;
};

class Broker;

class KafkaApis : public net::RequestHandler {
 public:
  explicit KafkaApis(BrokerServices services);
  ~KafkaApis() override;
  void Handle(const net::RequestContext& ctx, ByteBuffer frame,
              std::function<void(net::Reply)> done) override;
  // The broker is stopping: requests parked in a rebalance are answered (NOT_COORDINATOR)
  // so the shutdown does not wait for them. Asynchronous; call before draining.
  void BeginShutdown();
  // The metadata dropped these topics: the coordinators forget what they held of them.
  // Any thread.
  void OnTopicsDeleted(std::vector<std::string> topics);

 private:
  std::unique_ptr<Broker> broker_;
};

}  // namespace fjord::server
