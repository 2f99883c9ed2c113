// LogManager: data-dir locks, parallel load, checkpoints, the clean-shutdown marker,
// partition create/delete and the background tasks.
#include "fjord/storage/log_manager.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "log_test_util.h"
#include "temp_dir.h"

namespace fjord::storage {
namespace {

using ::fjord::testing::TempDir;
using testing::AppendBatches;
using testing::ReadAllBatches;

class LogManagerTest : public ::testing::Test {
 protected:
  LogManagerConfig Config() {
    LogManagerConfig c;
    c.log_dirs = {tmp_ / "d1", tmp_ / "d2"};
    c.default_config.segment_bytes = 4000;
    return c;
  }
  std::unique_ptr<LogManager> OpenManager(LogManagerConfig c) {
    auto m = LogManager::Open(fs_, clock_, std::move(c));
    EXPECT_TRUE(m.ok()) << m.status();
    return m.ok() ? std::move(*m) : nullptr;
  }
  static TopicPartition Tp(const std::string& topic, int p) { return {topic, PartitionId(p)}; }

  TempDir tmp_;
  FileSystem& fs_ = PosixFileSystem();
  ManualClock clock_;
};

TEST_F(LogManagerTest, ASecondManagerOnTheSameDataDirFailsClearly) {
  auto m = OpenManager(Config());
  auto second = LogManager::Open(fs_, clock_, Config());
  ASSERT_FALSE(second.ok());
  EXPECT_NE(second.status().message().find("in use by another Fjord process"),
            absl::string_view::npos)
      << second.status();
  // Another process is refused too (flock is per open file, across processes).
  pid_t pid = fork();
  if (pid == 0) {
    ManualClock clock;
    auto other = LogManager::Open(PosixFileSystem(), clock, Config());
    _exit(!other.ok() && other.status().code() == absl::StatusCode::kFailedPrecondition ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

TEST_F(LogManagerTest, CleanShutdownWritesCheckpointsAndTheMarkerAndReopensWithoutRecovery) {
  {
    auto m = OpenManager(Config());
    for (int p = 0; p < 4; ++p) {
      auto log = m->GetOrCreateLog(Tp("orders", p), Config().default_config);
      ASSERT_TRUE(log.ok()) << log.status();
      AppendBatches(**log, 5 + p, 2, 100, clock_.NowMs());
    }
    ASSERT_TRUE(m->GetLog(Tp("orders", 1))->MaybeIncrementLogStartOffset(Offset(3)).ok());
    ASSERT_TRUE(m->Shutdown().ok());
  }
  // Partitions are spread over both data dirs, each with its own files.
  for (const char* d : {"d1", "d2"}) {
    EXPECT_TRUE(fs_.Exists(tmp_ / (std::string(d) + "/.fjord_cleanshutdown")));
    EXPECT_TRUE(fs_.Exists(tmp_ / (std::string(d) + "/recovery-point-offset-checkpoint")));
    EXPECT_TRUE(fs_.Exists(tmp_ / (std::string(d) + "/log-start-offset-checkpoint")));
  }
  auto rp1 = ReadOffsetCheckpoint(fs_, tmp_ / "d1/recovery-point-offset-checkpoint");
  auto rp2 = ReadOffsetCheckpoint(fs_, tmp_ / "d2/recovery-point-offset-checkpoint");
  ASSERT_TRUE(rp1.ok() && rp2.ok());
  EXPECT_EQ(rp1->size() + rp2->size(), 4u);
  EXPECT_EQ(rp1->size(), 2u);

  auto m = OpenManager(Config());
  EXPECT_EQ(m->Partitions().size(), 4u);
  for (int p = 0; p < 4; ++p) {
    EXPECT_EQ(m->GetLog(Tp("orders", p))->log_end_offset(), Offset(2 * (5 + p)));
  }
  EXPECT_EQ(m->GetLog(Tp("orders", 1))->log_start_offset(), Offset(3));
  // The marker is gone while the broker runs: a crash from now on is unclean.
  EXPECT_FALSE(fs_.Exists(tmp_ / "d1/.fjord_cleanshutdown"));
}

TEST_F(LogManagerTest, WithoutTheMarkerEveryLogIsRecovered) {
  {
    auto m = OpenManager(Config());
    auto log = m->GetOrCreateLog(Tp("t", 0), Config().default_config);
    AppendBatches(**log, 5, 2, 100, clock_.NowMs());
    ASSERT_TRUE(m->Shutdown().ok());
  }
  // Simulate an unclean stop after more (torn) writes: no marker, garbage at the tail.
  std::string dir;
  for (const char* d : {"d1", "d2"}) {
    if (fs_.Exists(tmp_ / (std::string(d) + "/t-0"))) dir = tmp_ / (std::string(d) + "/t-0");
    (void)fs_.Remove(tmp_ / (std::string(d) + "/.fjord_cleanshutdown"));
  }
  ASSERT_FALSE(dir.empty());
  auto f = fs_.Open(JoinPath(dir, "00000000000000000000.log"), false);
  std::vector<uint8_t> junk(37, 0xab);
  ASSERT_TRUE((*f)->WriteAt(*(*f)->Size(), junk).ok());
  f->reset();
  auto m = OpenManager(Config());
  auto log = m->GetLog(Tp("t", 0));
  ASSERT_NE(log, nullptr);
  EXPECT_EQ(log->log_end_offset(), Offset(10));
  EXPECT_EQ(ReadAllBatches(*log).size(), 5u);
}

TEST_F(LogManagerTest, LoadsManyPartitionsInParallel) {
  LogManagerConfig c = Config();
  c.num_recovery_threads_per_data_dir = 4;
  {
    auto m = OpenManager(c);
    for (int p = 0; p < 40; ++p) {
      auto log = m->GetOrCreateLog(Tp(p % 2 ? "a-topic" : "b.topic", p), c.default_config);
      ASSERT_TRUE(log.ok());
      AppendBatches(**log, 1 + p % 5, 1, 50, clock_.NowMs());
    }
    // No clean shutdown: every log is scanned at the next start.
  }
  for (const char* d : {"d1", "d2"})
    (void)fs_.Remove(tmp_ / (std::string(d) + "/.fjord_cleanshutdown"));
  auto m = OpenManager(c);
  ASSERT_EQ(m->Partitions().size(), 40u);
  for (int p = 0; p < 40; ++p) {
    auto log = m->GetLog(Tp(p % 2 ? "a-topic" : "b.topic", p));
    ASSERT_NE(log, nullptr) << p;
    EXPECT_EQ(log->log_end_offset(), Offset(1 + p % 5)) << p;
  }
}

TEST_F(LogManagerTest, DeleteLogRenamesAtOnceAndRemovesInTheBackground) {
  auto m = OpenManager(Config());
  auto log = m->GetOrCreateLog(Tp("gone", 0), Config().default_config);
  AppendBatches(**log, 3, 1, 50, clock_.NowMs());
  std::string data_dir = fs_.Exists(tmp_ / "d1/gone-0") ? tmp_ / "d1" : tmp_ / "d2";
  ASSERT_TRUE(m->DeleteLog(Tp("gone", 0)).ok());
  EXPECT_EQ(m->GetLog(Tp("gone", 0)), nullptr);
  EXPECT_FALSE(fs_.Exists(JoinPath(data_dir, "gone-0")));
  auto names = fs_.List(data_dir);
  int pending = 0;
  for (const std::string& n : *names) pending += n.find("-delete") != std::string::npos;
  EXPECT_EQ(pending, 1);
  m->RemoveDeletedFiles();
  names = fs_.List(data_dir);
  for (const std::string& n : *names) EXPECT_EQ(n.find("-delete"), std::string::npos) << n;
  EXPECT_EQ(m->DeleteLog(Tp("gone", 0)).code(), absl::StatusCode::kNotFound);
  // The name can be used again.
  auto again = m->GetOrCreateLog(Tp("gone", 0), Config().default_config);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ((*again)->log_end_offset(), Offset(0));
}

TEST_F(LogManagerTest, RetentionAndFileRemovalRunOverAllLogs) {
  LogManagerConfig c = Config();
  c.default_config.retention_ms = 1000;
  c.default_config.file_delete_delay_ms = 0;
  auto m = OpenManager(c);
  for (int p = 0; p < 3; ++p) {
    auto log = m->GetOrCreateLog(Tp("r", p), c.default_config);
    AppendBatches(**log, 20, 2, 100, clock_.NowMs() - 10'000);
  }
  EXPECT_GT(m->RunRetention(), 3);
  m->RemoveDeletedFiles();
  for (int p = 0; p < 3; ++p) {
    auto log = m->GetLog(Tp("r", p));
    EXPECT_EQ(log->log_start_offset(), Offset(40));
    EXPECT_EQ(log->segment_count(), 1u);
  }
}

TEST_F(LogManagerTest, BackgroundWorkerFlushesLogsWhoseFlushMsIsDue) {
  LogManagerConfig c = Config();
  c.flush_scheduler_interval_ms = 10;
  auto m = LogManager::Open(fs_, SystemClock(), c);
  ASSERT_TRUE(m.ok());
  LogConfig lc = c.default_config;
  lc.flush_ms = 20;
  auto log = (*m)->GetOrCreateLog(Tp("f", 0), lc);
  AppendBatches(**log, 3, 1, 50, SystemClock().NowMs());
  EXPECT_EQ((*log)->recovery_point(), Offset(0));
  (*m)->StartBackgroundTasks();
  // Bounded wait for the behaviour (not a timing assertion).
  for (int i = 0; i < 500 && (*log)->recovery_point() < Offset(3); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ((*log)->recovery_point(), Offset(3));
  ASSERT_TRUE((*m)->Shutdown().ok());
}

TEST_F(LogManagerTest, RollFlushesRunOnTheWorker) {
  LogManagerConfig c = Config();
  auto m = OpenManager(c);
  m->StartBackgroundTasks();
  auto log = m->GetOrCreateLog(Tp("roll", 0), c.default_config);
  AppendBatches(**log, 30, 2, 100, clock_.NowMs());  // several rolls at 4000 bytes
  ASSERT_GT((*log)->segment_count(), 2u);
  const Offset active_base = Offset((*log)->log_end_offset().value);
  for (int i = 0; i < 500 && (*log)->recovery_point() == Offset(0); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_GT((*log)->recovery_point(), Offset(0));
  EXPECT_LE((*log)->recovery_point(), active_base);
  ASSERT_TRUE(m->Shutdown().ok());
  EXPECT_EQ((*log)->recovery_point(), (*log)->log_end_offset());
}

TEST_F(LogManagerTest, FlushMessagesFsyncsBeforeTheAppendReturnsEvenWithAWorker) {
  LogManagerConfig c = Config();
  auto m = OpenManager(c);
  m->StartBackgroundTasks();
  LogConfig lc = c.default_config;
  lc.flush_messages = 1;
  auto log = m->GetOrCreateLog(Tp("durable", 0), lc);
  for (int i = 0; i < 20; ++i) {  // rolls included
    AppendBatches(**log, 1, 3, 100, clock_.NowMs());
    EXPECT_EQ((*log)->recovery_point(), (*log)->log_end_offset());
  }
  ASSERT_TRUE(m->Shutdown().ok());
}

}  // namespace
}  // namespace fjord::storage
