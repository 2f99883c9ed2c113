#pragma once
// A GroupShard under test: appends land in `log` (so a second shard can replay them),
// the clock is manual, and timers run when Advance() moves the clock past them.

#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <memory>
#include <vector>

#include "fjord/coordinator/group_shard.h"
#include "fjord/net/event_loops.h"

namespace fjord::coordinator::test_support {

// Timers run by hand: Advance moves the clock and runs what falls due, in order.
struct FakeTimer : net::Timer {
  bool cancelled = false;
  void Cancel() override { cancelled = true; }
};

inline GroupConfig TestConfig() {
  GroupConfig c;
  c.initial_rebalance_delay_ms = 3000;
  c.max_metadata_bytes = 10;
  return c;
}

// A shard whose appends land in `log`, so a second shard can replay them.
struct Fixture {
  explicit Fixture(GroupConfig config = TestConfig()) {
    shard = std::make_unique<GroupShard>(
        clock,
        [this](const std::vector<KeyValue>& records, const TxnProducer*) {
          if (!next_append.ok()) return next_append;
          log.insert(log.end(), records.begin(), records.end());
          return absl::OkStatus();
        },
        [this](int64_t delay, std::function<void()> task) {
          auto t = std::make_shared<FakeTimer>();
          timers.push_back({clock.NowMs() + delay, t, std::move(task)});
          return t;
        },
        config);
  }

  void Advance(int64_t ms) {
    const int64_t target = clock.NowMs() + ms;
    while (true) {
      auto due = timers.end();
      for (auto it = timers.begin(); it != timers.end(); ++it) {
        if (!it->timer->cancelled && it->at <= target &&
            (due == timers.end() || it->at < due->at)) {
          due = it;
        }
      }
      if (due == timers.end()) break;
      clock.SetMs(std::max(clock.NowMs(), due->at));
      auto task = std::move(due->task);
      timers.erase(due);
      task();
    }
    clock.SetMs(target);
  }

  // Replays the log into a fresh shard (a restart).
  std::unique_ptr<GroupShard> Reload() {
    auto replayed = std::make_unique<GroupShard>(
        clock, [](const std::vector<KeyValue>&, const TxnProducer*) { return absl::OkStatus(); },
        [](int64_t, std::function<void()>) { return std::make_shared<FakeTimer>(); }, TestConfig());
    for (const KeyValue& kv : log) {
      std::optional<std::span<const uint8_t>> value;
      if (kv.value) value = std::span<const uint8_t>(*kv.value);
      absl::StatusOr<GroupRecord> r = DecodeGroupRecord(kv.key, value);
      EXPECT_TRUE(r.ok());
      if (r.ok()) replayed->Replay(*r);
    }
    replayed->FinishLoad();
    return replayed;
  }

  struct Pending {
    int64_t at;
    std::shared_ptr<FakeTimer> timer;
    std::function<void()> task;
  };
  ManualClock clock;
  std::vector<KeyValue> log;
  absl::Status next_append = absl::OkStatus();
  std::vector<Pending> timers;
  std::unique_ptr<GroupShard> shard;
};

}  // namespace fjord::coordinator::test_support
