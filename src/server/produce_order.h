#pragma once
// Produce requests of one connection reach their partitions in the order they were sent,
// as Kafka's connections (one request at a time) guarantee, although some are validated
// on a worker first and others not: each connection's produces start their appends in
// arrival order. Appends are posted from the connection's loop, and posts from one loop
// to another keep their order, so starting in order is appending in order.
//
// One queue per connection with a produce in flight, kept per loop and touched only on
// that loop (a connection's requests are all handled on its loop).

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <vector>

#include "absl/container/flat_hash_map.h"

namespace fjord::server {

class ProduceOrder {
 public:
  struct Ticket {
    bool ready = false;
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
  // produce of the connection has started, else right after the last of them does.
  void Ready(size_t loop, uint64_t connection, const std::shared_ptr<Ticket>& ticket,
             std::function<void()> start) {
    ticket->start = std::move(start);
    ticket->ready = true;
    auto& queues = per_loop_[loop];
    auto it = queues.find(connection);
    if (it == queues.end()) return;
    std::deque<std::shared_ptr<Ticket>>& queue = it->second;
    std::vector<std::function<void()>> run;
    while (!queue.empty() && queue.front()->ready) {
      run.push_back(std::move(queue.front()->start));
      queue.pop_front();
    }
    if (queue.empty()) queues.erase(it);
    for (auto& fn : run) fn();
  }

 private:
  std::vector<absl::flat_hash_map<uint64_t, std::deque<std::shared_ptr<Ticket>>>> per_loop_;
};

}  // namespace fjord::server
