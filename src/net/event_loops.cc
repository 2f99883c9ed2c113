#include "fjord/net/event_loops.h"

#include <pthread.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <string>

namespace fjord::net {
namespace asio = boost::asio;

namespace {
thread_local int current_loop = -1;

class AsioTimer : public Timer, public std::enable_shared_from_this<AsioTimer> {
 public:
  explicit AsioTimer(asio::io_context& io) : timer_(io) {}
  void Start(std::chrono::milliseconds delay, EventLoops::Task task) {
    timer_.expires_after(delay);
    timer_.async_wait([self = shared_from_this(),
                       task = std::move(task)](const boost::system::error_code& ec) mutable {
      if (ec || self->cancelled_) return;
      task();
    });
  }
  void Cancel() override {
    cancelled_ = true;
    timer_.cancel();
  }

 private:
  asio::steady_timer timer_;
  bool cancelled_ = false;
};
}  // namespace

struct EventLoops::Loop {
  asio::io_context io{1};
  asio::executor_work_guard<asio::io_context::executor_type> guard{io.get_executor()};
};

EventLoops::EventLoops(size_t count) {
  if (count == 0) count = 1;
  for (size_t i = 0; i < count; ++i) loops_.push_back(std::make_unique<Loop>());
}

EventLoops::~EventLoops() { Stop(); }

void EventLoops::Start() {
  if (started_) return;
  started_ = true;
  for (size_t i = 0; i < loops_.size(); ++i) {
    threads_.emplace_back([this, i] {
      current_loop = static_cast<int>(i);
      std::string name = "fjord-loop-" + std::to_string(i);
      pthread_setname_np(pthread_self(), name.c_str());
      loops_[i]->io.run();
    });
  }
}

void EventLoops::Stop() {
  for (auto& l : loops_) {
    l->guard.reset();
    l->io.stop();
  }
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
  threads_.clear();
}

void EventLoops::Post(size_t loop, Task task) { asio::post(loops_[loop]->io, std::move(task)); }

std::shared_ptr<Timer> EventLoops::RunAfter(size_t loop, std::chrono::milliseconds delay,
                                            Task task) {
  auto timer = std::make_shared<AsioTimer>(loops_[loop]->io);
  timer->Start(delay, std::move(task));
  return timer;
}

int EventLoops::CurrentLoop() { return current_loop; }

asio::io_context& EventLoops::context(size_t loop) { return loops_[loop]->io; }

}  // namespace fjord::net
