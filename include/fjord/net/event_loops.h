#pragma once
// The node's event loops: one Asio io_context per thread, normally one per core
// (num.event.loop.threads). Every connection and every partition belongs to exactly one
// loop and is touched only there; work for another loop is posted to it. This header keeps
// Asio out of its users: they see loop indexes, Post and timers.
//
// Lifecycle: construct, Start() (spawns the threads), Post/RunAfter from anywhere,
// Stop() (ends the loops, joins the threads). Posting after Stop() drops the task.

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <thread>
#include <vector>

#include "absl/functional/any_invocable.h"

namespace boost::asio {
class io_context;
}

namespace fjord::net {

// A one-shot timer on one loop. Cancel() from the timer's loop guarantees the callback
// will not run afterwards.
class Timer {
 public:
  virtual ~Timer() = default;
  virtual void Cancel() = 0;
};

class EventLoops {
 public:
  using Task = absl::AnyInvocable<void()>;

  explicit EventLoops(size_t count);
  ~EventLoops();
  EventLoops(const EventLoops&) = delete;
  EventLoops& operator=(const EventLoops&) = delete;

  size_t size() const { return loops_.size(); }
  void Start();
  // Stops every loop after the task it is running and joins the threads. Idempotent.
  void Stop();

  void Post(size_t loop, Task task);
  // Runs `task` on `loop` after `delay`, unless the returned timer is cancelled first.
  std::shared_ptr<Timer> RunAfter(size_t loop, std::chrono::milliseconds delay, Task task);

  // The index of the loop the calling thread runs, or -1 off the loops.
  static int CurrentLoop();

  boost::asio::io_context& context(size_t loop);

 private:
  struct Loop;
  std::vector<std::unique_ptr<Loop>> loops_;
  std::vector<std::thread> threads_;
  bool started_ = false;
};

}  // namespace fjord::net
