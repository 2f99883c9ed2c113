#pragma once
// The clock seam (style.md: clock access goes through a small interface). Storage, the
// coordinators and the server read wall time from a Clock so tests can drive simulated
// time. SystemClock() is the real one; ManualClock is for tests. Both are thread-safe.

#include <atomic>
#include <cstdint>

namespace fjord {

class Clock {
 public:
  virtual ~Clock() = default;
  // Wall-clock milliseconds since the Unix epoch (Kafka's timestamps).
  virtual int64_t NowMs() const = 0;
  // Monotonic nanoseconds, for measuring intervals.
  virtual int64_t MonotonicNanos() const = 0;
};

Clock& SystemClock();

// A clock that only moves when told to.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(int64_t now_ms = 1'700'000'000'000) : now_ms_(now_ms) {}
  int64_t NowMs() const override { return now_ms_.load(std::memory_order_relaxed); }
  int64_t MonotonicNanos() const override { return NowMs() * 1'000'000; }
  void AdvanceMs(int64_t ms) { now_ms_.fetch_add(ms, std::memory_order_relaxed); }
  void SetMs(int64_t ms) { now_ms_.store(ms, std::memory_order_relaxed); }

 private:
  std::atomic<int64_t> now_ms_;
};

}  // namespace fjord
