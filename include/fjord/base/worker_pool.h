#pragma once
// A fixed set of threads for work that must not run on an event loop: validating a large
// or compressed batch, an fsync a produce waits for. Tasks run in submission order, on
// whichever thread is free. Stop() (or destruction) runs the tasks already submitted and
// joins; tasks submitted after it are dropped.

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace fjord {

class WorkerPool {
 public:
  WorkerPool(size_t threads, std::string name);
  ~WorkerPool();
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  // Thread-safe. False (and `task` dropped) once stopping.
  bool Submit(std::function<void()> task);
  void Stop();
  size_t size() const { return threads_.size(); }

 private:
  void Run();

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> tasks_;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace fjord
