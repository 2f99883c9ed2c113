#pragma once
// Produce requests of one connection reach their partitions in the order they were sent,
// as Kafka's connections (one request at a time) guarantee, although some are validated
// on a worker or verified with the transaction coordinator first and others not: each
// connection's produces start in arrival order, one at a time, and the next starts once
// the previous has posted its appends (Started). Appends are posted from the connection's
// loop, and posts from one loop to another keep their order, so this is appending in order.
//
// One queue per connection with a produce in flight, kept per loop and touched only on
// that loop (a connection's requests are all handled on its loop).

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"

namespace fjord::server {

class ProduceOrder {
 public:
  struct Ticket {
    bool ready = false;
    bool running = false;
    std::function<void()> start;
  };

  explicit ProduceOrder(size_t loops) : per_loop_(loops) {}

  // On the connection's loop, as the request arrives.
  std::shared_ptr<Ticket> Enqueue(size_t loop, uint64_t connection) {
    auto ticket = std::make_shared<Ticket>();
    per_loop_[loop][connection].push_back(ticket);
    return ticket;
  }

  // On the connection's loop: the produce may start; `start` runs now if every earlier
  // produce of the connection has started its appends, else once the last of them has.
  // `start` must lead to Started (on this loop).
  void Ready(size_t loop, uint64_t connection, const std::shared_ptr<Ticket>& ticket,
             std::function<void()> start) {
    ticket->start = std::move(start);
    ticket->ready = true;
    Drain(loop, connection);
  }

  // On the connection's loop: the running produce has posted its appends.
  void Started(size_t loop, uint64_t connection, const std::shared_ptr<Ticket>& ticket) {
    auto& queues = per_loop_[loop];
    auto it = queues.find(connection);
    if (it == queues.end() || it->second.empty() || it->second.front() != ticket) return;
    it->second.pop_front();
    if (it->second.empty()) {
      queues.erase(it);
      return;
    }
    Drain(loop, connection);
  }

 private:
  void Drain(size_t loop, uint64_t connection) {
    auto& queues = per_loop_[loop];
    auto it = queues.find(connection);
    if (it == queues.end() || it->second.empty()) return;
    Ticket& front = *it->second.front();
    if (!front.ready || front.running) return;
    front.running = true;
    std::function<void()> start = std::move(front.start);
    start();  // may call Started, and so Drain, again
  }

  std::vector<absl::flat_hash_map<uint64_t, std::deque<std::shared_ptr<Ticket>>>> per_loop_;
};

}  // namespace fjord::server
