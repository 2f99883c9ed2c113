#pragma once
// The hostile-client suite: requests a client may send on purpose or by bug, against the
// real `fjord` binary. Each case asserts Kafka's answer, that the broker's memory stays
// bounded, and that a well-behaved client running alongside keeps its latency.
//
// One broker per test suite (HostileTest::Settings() gives its settings); a Probe
// produces a small record every 20 ms on its own connection through every case.

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "broker_process.h"
#include "fjord/client/client.h"
#include "fjord/protocol/messages/create_topics_request.h"
#include "fjord/protocol/messages/create_topics_response.h"
#include "fjord/protocol/messages/offset_commit_request.h"
#include "fjord/protocol/messages/produce_request.h"
#include "fjord/protocol/messages/produce_response.h"
#include "fjord/protocol/record_batch_builder.h"

namespace fjord::hostile {

using protocol::ErrorCode;

inline ErrorCode Err(int16_t code) { return static_cast<ErrorCode>(code); }

// A one-record batch with a value of `value_bytes`.
inline std::vector<uint8_t> SmallBatch(size_t value_bytes = 16) {
  protocol::RecordBatchBuilder b;
  std::vector<uint8_t> value(value_bytes, 'v');
  b.Add(std::chrono::duration_cast<std::chrono::milliseconds>(
            std::chrono::system_clock::now().time_since_epoch())
            .count(),
        std::nullopt, std::span<const uint8_t>(value));
  return *std::move(b).Build();
}

// A Produce of `batch` to one partition, acks=all.
// A gzip batch of `records` well-formed records with values of `value_bytes` zeros: about
// a thousandth of the inflated size on the wire. Built as a stream, never whole.
std::vector<uint8_t> GzipBomb(int32_t records, size_t value_bytes);

// The first partition's answer of a Produce (error -1 when the call failed or the answer
// is empty), with a test failure for a failed call.
protocol::ProduceResponse::PartitionProduceResponse FirstPartitionOf(
    const absl::StatusOr<protocol::ProduceResponse>& resp);

protocol::ProduceRequest ProduceRequestOf(const std::string& topic, int32_t partition,
                                          std::span<const uint8_t> batch);

// A member-less OffsetCommit of `offset` for `topic`-0.
protocol::OffsetCommitRequest CommitRequestOf(const std::string& group, const std::string& topic,
                                              int64_t offset);

// Produces a small record every 20 ms to partition 0 of `topic` on its own client and
// keeps the slowest answer (and any failure) since the last Reset.
class Probe {
 public:
  Probe(const std::string& bootstrap, std::string topic);
  ~Probe();
  void Reset();
  std::chrono::milliseconds worst() const { return std::chrono::milliseconds(worst_ms_.load()); }
  int failures() const { return failures_.load(); }
  int64_t sent() const { return sent_.load(); }

 private:
  void Run();
  std::unique_ptr<client::Client> client_;
  std::string topic_;
  std::atomic<bool> stop_{false};
  std::atomic<int64_t> worst_ms_{0};
  std::atomic<int> failures_{0};
  std::atomic<int64_t> sent_{0};
  std::thread thread_;
};

class HostileTest : public ::testing::Test {
 protected:
  // Extra broker settings of a suite (key=value); call from a derived SetUpTestSuite.
  static void StartBroker(std::vector<std::string> settings = {});
  static void StopBroker();
  static void SetUpTestSuite() { StartBroker(); }
  static void TearDownTestSuite() { StopBroker(); }

  void SetUp() override;
  // After the case: the broker is alive, its RSS grew by at most `max_growth_kib` since
  // SetUp, and the probe's worst latency stayed under `max_latency` with no failure.
  void ExpectUnharmed(long max_growth_kib = 200 * 1024,
                      std::chrono::milliseconds max_latency = std::chrono::milliseconds(1500));
  void TearDown() override;

  client::Options Opts() const;
  client::Client& client() { return *client_; }
  // Creates `name` with `partitions` partitions and waits until it is served.
  void CreateTopic(const std::string& name, int partitions,
                   const std::map<std::string, std::string>& configs = {});
  // Produce of `batch` to one partition; the partition's answer.
  protocol::ProduceResponse::PartitionProduceResponse Produce(const std::string& topic,
                                                              int32_t partition,
                                                              std::span<const uint8_t> batch);

  static testing::BrokerProcess* broker_;
  static std::unique_ptr<Probe> probe_;
  std::unique_ptr<client::Client> client_;
  long rss_at_start_ = 0;
};

}  // namespace fjord::hostile
