#include "hostile.h"

namespace fjord::hostile {

namespace {
constexpr char kProbeTopic[] = "hostile-probe";
}  // namespace

protocol::ProduceRequest ProduceRequestOf(const std::string& topic, int32_t partition,
                                          std::span<const uint8_t> batch) {
  protocol::ProduceRequest req;
  req.acks = -1;
  req.timeout_ms = 10000;
  protocol::ProduceRequest::TopicProduceData td;
  td.name = topic;
  protocol::ProduceRequest::PartitionProduceData pd;
  pd.index = PartitionId(partition);
  pd.records = protocol::RecordsView::Of(batch);
  td.partition_data.push_back(pd);
  req.topic_data.push_back(td);
  return req;
}

protocol::OffsetCommitRequest CommitRequestOf(const std::string& group, const std::string& topic,
                                              int64_t offset) {
  protocol::OffsetCommitRequest req;
  req.group_id = group;
  protocol::OffsetCommitRequest::OffsetCommitRequestTopic t;
  t.name = topic;
  protocol::OffsetCommitRequest::OffsetCommitRequestPartition p;
  p.partition_index = PartitionId(0);
  p.committed_offset = Offset(offset);
  t.partitions.push_back(p);
  req.topics.push_back(t);
  return req;
}

testing::BrokerProcess* HostileTest::broker_ = nullptr;
std::unique_ptr<Probe> HostileTest::probe_;

Probe::Probe(const std::string& bootstrap, std::string topic) : topic_(std::move(topic)) {
  client::Options o;
  o.bootstrap = {bootstrap};
  o.client_id = "hostile-probe";
  o.request_timeout = std::chrono::milliseconds(10000);
  client_ = std::make_unique<client::Client>(o);
  thread_ = std::thread([this] { Run(); });
}

Probe::~Probe() {
  stop_ = true;
  thread_.join();
}

void Probe::Reset() {
  worst_ms_ = 0;
  failures_ = 0;
}

void Probe::Run() {
  const std::vector<uint8_t> batch = SmallBatch();
  while (!stop_) {
    const protocol::ProduceRequest req = ProduceRequestOf(topic_, 0, batch);
    const auto start = std::chrono::steady_clock::now();
    auto resp = client_->Call<protocol::ProduceResponse>(client::Target::Leader(topic_, 0), req);
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                        std::chrono::steady_clock::now() - start)
                        .count();
    if (!resp.ok() || resp->responses.empty() || resp->responses[0].partition_responses.empty() ||
        resp->responses[0].partition_responses[0].error_code != 0) {
      ++failures_;
    }
    ++sent_;
    int64_t worst = worst_ms_.load();
    while (ms > worst && !worst_ms_.compare_exchange_weak(worst, ms)) {
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

void HostileTest::StartBroker(std::vector<std::string> settings) {
  settings.push_back("group.initial.rebalance.delay.ms=0");
  broker_ = new testing::BrokerProcess(FJORD_BINARY, std::move(settings));
  ASSERT_NE(broker_->port(), 0) << "fjord did not start:\n" << broker_->log();
  client::Options o;
  o.bootstrap = {broker_->bootstrap()};
  client::Client c(o);
  protocol::CreateTopicsRequest req;
  protocol::CreateTopicsRequest::CreatableTopic t;
  t.name = kProbeTopic;
  t.num_partitions = 1;
  t.replication_factor = 1;
  req.topics.push_back(t);
  auto resp = c.Call<protocol::CreateTopicsResponse>(client::Target::Controller(), req);
  ASSERT_TRUE(resp.ok()) << resp.status();
  probe_ = std::make_unique<Probe>(broker_->bootstrap(), kProbeTopic);
}

void HostileTest::StopBroker() {
  probe_.reset();
  if (broker_ != nullptr) {
    const int status = broker_->Stop();
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
        << "fjord did not exit cleanly on SIGTERM (status " << status << "):\n"
        << broker_->log().substr(broker_->log().size() > 4000 ? broker_->log().size() - 4000 : 0);
  }
  delete broker_;
  broker_ = nullptr;
}

client::Options HostileTest::Opts() const {
  client::Options o;
  o.bootstrap = {broker_->bootstrap()};
  o.client_id = "hostile";
  o.request_timeout = std::chrono::milliseconds(20000);
  return o;
}

void HostileTest::SetUp() {
  ASSERT_NE(broker_, nullptr);
  ASSERT_TRUE(broker_->alive()) << broker_->log();
  client_ = std::make_unique<client::Client>(Opts());
  // Let the probe get going before the case.
  const int64_t sent = probe_->sent();
  for (int i = 0; i < 200 && probe_->sent() < sent + 2; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  probe_->Reset();
  rss_at_start_ = broker_->rss_kib();
}

void HostileTest::ExpectUnharmed(long max_growth_kib, std::chrono::milliseconds max_latency) {
  ASSERT_TRUE(broker_->alive()) << "the broker died:\n" << broker_->log();
  const long rss = broker_->rss_kib();
  EXPECT_LE(rss - rss_at_start_, max_growth_kib)
      << "RSS went from " << rss_at_start_ << " KiB to " << rss << " KiB";
  const int64_t sent = probe_->sent();
  for (int i = 0; i < 300 && probe_->sent() < sent + 2; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_GE(probe_->sent(), sent + 2) << "the probe's produce is stuck";
  EXPECT_LT(probe_->worst(), max_latency) << "a client alongside waited this long";
  EXPECT_EQ(probe_->failures(), 0) << "the probe's produce failed";
}

void HostileTest::TearDown() { client_.reset(); }

void HostileTest::CreateTopic(const std::string& name, int partitions) {
  protocol::CreateTopicsRequest req;
  protocol::CreateTopicsRequest::CreatableTopic t;
  t.name = name;
  t.num_partitions = partitions;
  t.replication_factor = 1;
  req.topics.push_back(t);
  auto resp = client_->Call<protocol::CreateTopicsResponse>(client::Target::Controller(), req);
  ASSERT_TRUE(resp.ok()) << resp.status();
  ASSERT_EQ(resp->topics.size(), 1u);
  ASSERT_EQ(Err(resp->topics[0].error_code), ErrorCode::kNone);
}

protocol::ProduceResponse::PartitionProduceResponse HostileTest::Produce(
    const std::string& topic, int32_t partition, std::span<const uint8_t> batch) {
  const protocol::ProduceRequest req = ProduceRequestOf(topic, partition, batch);
  auto resp = client_->Call<protocol::ProduceResponse>(client::Target::Any(), req);
  EXPECT_TRUE(resp.ok()) << resp.status();
  if (!resp.ok() || resp->responses.empty() || resp->responses[0].partition_responses.empty()) {
    protocol::ProduceResponse::PartitionProduceResponse none;
    none.error_code = -1;
    return none;
  }
  return resp->responses[0].partition_responses[0];
}

}  // namespace fjord::hostile
