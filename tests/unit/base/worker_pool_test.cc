#include "fjord/base/worker_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <latch>
#include <thread>

namespace fjord {
namespace {

TEST(WorkerPoolTest, RunsTasksConcurrently) {
  WorkerPool pool(2, "test");
  std::latch both(2);
  std::atomic<int> ran{0};
  // Each task waits for the other: only two threads running at once can finish them.
  for (int i = 0; i < 2; ++i) {
    ASSERT_TRUE(pool.Submit([&] {
      both.arrive_and_wait();
      ++ran;
    }));
  }
  pool.Stop();
  EXPECT_EQ(ran.load(), 2);
}

TEST(WorkerPoolTest, StopRunsWhatWasSubmittedThenRefuses) {
  std::atomic<int> ran{0};
  WorkerPool pool(1, "test");
  for (int i = 0; i < 100; ++i) {
    ASSERT_TRUE(pool.Submit([&] {
      std::this_thread::sleep_for(std::chrono::microseconds(100));
      ++ran;
    }));
  }
  pool.Stop();
  EXPECT_EQ(ran.load(), 100);
  EXPECT_FALSE(pool.Submit([&] { ++ran; }));
  EXPECT_EQ(ran.load(), 100);
}

}  // namespace
}  // namespace fjord
