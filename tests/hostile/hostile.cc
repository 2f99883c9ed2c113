#include "hostile.h"

#include <zlib.h>

#include <cstring>

#include "fjord/base/crc32c.h"
#include "fjord/base/endian.h"
#include "fjord/base/varint.h"

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

void HostileTest::CreateTopic(const std::string& name, int partitions,
                              const std::map<std::string, std::string>& configs) {
  protocol::CreateTopicsRequest req;
  protocol::CreateTopicsRequest::CreatableTopic t;
  t.name = name;
  t.num_partitions = partitions;
  t.replication_factor = 1;
  for (const auto& [key, value] : configs) {
    protocol::CreateTopicsRequest::CreatableTopicConfig c;
    c.name = key;
    c.value = value;
    t.configs.push_back(c);
  }
  req.topics.push_back(t);
  auto resp = client_->Call<protocol::CreateTopicsResponse>(client::Target::Controller(), req);
  ASSERT_TRUE(resp.ok()) << resp.status();
  ASSERT_EQ(resp->topics.size(), 1u);
  ASSERT_EQ(Err(resp->topics[0].error_code), ErrorCode::kNone);
}

protocol::ProduceResponse::PartitionProduceResponse HostileTest::Produce(
    const std::string& topic, int32_t partition, std::span<const uint8_t> batch) {
  const protocol::ProduceRequest req = ProduceRequestOf(topic, partition, batch);
  return FirstPartitionOf(client_->Call<protocol::ProduceResponse>(client::Target::Any(), req));
}

protocol::ProduceResponse::PartitionProduceResponse FirstPartitionOf(
    const absl::StatusOr<protocol::ProduceResponse>& resp) {
  EXPECT_TRUE(resp.ok()) << resp.status();
  if (!resp.ok() || resp->responses.empty() || resp->responses[0].partition_responses.empty()) {
    protocol::ProduceResponse::PartitionProduceResponse none;
    none.error_code = -1;
    return none;
  }
  return resp->responses[0].partition_responses[0];
}

// A gzip batch of `records` well-formed records with values of `value_bytes` zeros: about
// a thousandth of the inflated size on the wire. Built as a stream, never whole.
std::vector<uint8_t> GzipBomb(int32_t records, size_t value_bytes) {
  z_stream zs{};
  EXPECT_EQ(deflateInit2(&zs, 9, Z_DEFLATED, 16 + MAX_WBITS, 9, Z_DEFAULT_STRATEGY), Z_OK);
  std::vector<uint8_t> out(61);  // the batch header, filled in below
  std::vector<uint8_t> chunk(1 << 16);
  auto deflate_some = [&](const uint8_t* data, size_t n, int flush) {
    zs.next_in = const_cast<Bytef*>(data);
    zs.avail_in = static_cast<uInt>(n);
    do {
      zs.next_out = chunk.data();
      zs.avail_out = static_cast<uInt>(chunk.size());
      deflate(&zs, flush);
      out.insert(out.end(), chunk.data(), chunk.data() + (chunk.size() - zs.avail_out));
    } while (zs.avail_out == 0);
  };
  const std::vector<uint8_t> zeros(value_bytes, 0);
  for (int32_t i = 0; i < records; ++i) {
    uint8_t head[32];
    uint8_t body[32];
    size_t b = 0;
    body[b++] = 0;                                         // attributes
    b += varint::PutUnsigned(body + b, 0);                 // timestamp delta 0 (zigzag)
    b += varint::PutUnsigned(body + b, uint64_t(i) << 1);  // offset delta i
    b += varint::PutUnsigned(body + b, 1);                 // key -1 (null)
    b += varint::PutUnsigned(body + b, uint64_t(value_bytes) << 1);
    const size_t length = b + value_bytes + 1;  // + header count 0
    size_t h = varint::PutUnsigned(head, uint64_t(length) << 1);
    std::memcpy(head + h, body, b);
    deflate_some(head, h + b, Z_NO_FLUSH);
    deflate_some(zeros.data(), zeros.size(), Z_NO_FLUSH);
    const uint8_t no_headers = 0;
    deflate_some(&no_headers, 1, i + 1 == records ? Z_FINISH : Z_NO_FLUSH);
  }
  deflateEnd(&zs);
  const int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  uint8_t* p = out.data();
  be::Store64(p, 0);                                           // base offset
  be::Store32(p + 8, static_cast<uint32_t>(out.size() - 12));  // batch length
  be::Store32(p + 12, 0);                                      // partition leader epoch
  p[16] = 2;                                                   // magic
  be::Store16(p + 21, 1);                                      // attributes: gzip
  be::Store32(p + 23, static_cast<uint32_t>(records - 1));     // last offset delta
  be::Store64(p + 27, static_cast<uint64_t>(now));
  be::Store64(p + 35, static_cast<uint64_t>(now));
  be::Store64(p + 43, static_cast<uint64_t>(-1));  // producer id
  be::Store16(p + 51, static_cast<uint16_t>(-1));
  be::Store32(p + 53, static_cast<uint32_t>(-1));
  be::Store32(p + 57, static_cast<uint32_t>(records));
  be::Store32(p + 17, crc32c::Value(p + 21, out.size() - 21));
  return out;
}

}  // namespace fjord::hostile
