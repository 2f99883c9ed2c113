#include "request_memory_pool.h"

#include <utility>

namespace fjord::net {

bool RequestMemoryPool::ReserveOrWait(size_t bytes, std::function<void()> granted) {
  if (!bounded()) return true;
  std::lock_guard<std::mutex> lock(mu_);
  if (available_ > 0 && waiters_.empty()) {
    available_ -= static_cast<int64_t>(bytes);
    return true;
  }
  waiters_.push_back(Waiter{bytes, std::move(granted)});
  return false;
}

void RequestMemoryPool::Release(size_t bytes) {
  if (!bounded() || bytes == 0) return;
  std::vector<std::function<void()>> granted;
  {
    std::lock_guard<std::mutex> lock(mu_);
    available_ += static_cast<int64_t>(bytes);
    while (available_ > 0 && !waiters_.empty()) {
      available_ -= static_cast<int64_t>(waiters_.front().bytes);
      granted.push_back(std::move(waiters_.front().granted));
      waiters_.pop_front();
    }
  }
  for (auto& g : granted) g();
}

int64_t RequestMemoryPool::available() const {
  std::lock_guard<std::mutex> lock(mu_);
  return available_;
}

size_t RequestMemoryPool::waiters() const {
  std::lock_guard<std::mutex> lock(mu_);
  return waiters_.size();
}

}  // namespace fjord::net
