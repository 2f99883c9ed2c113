#pragma once
// The broker-wide budget for request bytes in flight (`queued.max.request.bytes`, Kafka's
// memory pool): every request frame takes its size from the pool when it is read and gives
// it back when its reply has been written. When the pool is spent, a connection that wants
// more stops reading (its client's TCP window closes) and is woken when memory returns.
//
// As Kafka's pool, a reservation succeeds while any memory is left, even if it is larger
// than what is left: one request bigger than the whole budget still goes through (alone),
// so no request size can deadlock the broker. A capacity of zero or below means no budget.
//
// Thread-safe: connections on every loop share one pool.

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <vector>

namespace fjord::net {

class RequestMemoryPool {
 public:
  explicit RequestMemoryPool(int64_t capacity) : capacity_(capacity), available_(capacity) {}

  bool bounded() const { return capacity_ > 0; }

  // Takes `bytes` if any memory is left and no one is waiting, and returns true.
  // Otherwise queues the request and returns false; `granted` is called (from the thread
  // that releases memory, with no lock held) once the bytes have been taken for it, in
  // the order the waits began, so a waiting connection cannot be overtaken forever. The
  // bytes are then the caller's: it must Release them even if it no longer wants them.
  bool ReserveOrWait(size_t bytes, std::function<void()> granted);
  void Release(size_t bytes);

  int64_t available() const;
  size_t waiters() const;

 private:
  const int64_t capacity_;
  mutable std::mutex mu_;
  int64_t available_;
  struct Waiter {
    size_t bytes;
    std::function<void()> granted;
  };
  std::deque<Waiter> waiters_;
};

}  // namespace fjord::net
