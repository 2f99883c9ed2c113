#include "request_memory_pool.h"

#include <utility>

namespace fjord::net {

bool RequestMemoryPool::ReserveOrWait(size_t bytes, std::function<void()> wake) {
  if (!bounded()) return true;
  std::lock_guard<std::mutex> lock(mu_);
  if (available_ > 0) {
    available_ -= static_cast<int64_t>(bytes);
    return true;
  }
  waiters_.push_back(std::move(wake));
  return false;
}

void RequestMemoryPool::Release(size_t bytes) {
  if (!bounded() || bytes == 0) return;
  std::vector<std::function<void()>> wake;
  {
    std::lock_guard<std::mutex> lock(mu_);
    available_ += static_cast<int64_t>(bytes);
    if (available_ > 0) wake.swap(waiters_);
  }
  for (auto& w : wake) w();
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
