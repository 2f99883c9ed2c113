// The client against a real `fjord` on loopback: bootstrap and metadata, typed calls
// routed to the controller, partition leaders and group coordinators, version
// negotiation, pipelining, and the failures a user meets (a dead address, a bad address,
// a peer that is not Kafka).
#include "fjord/client/client.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <future>
#include <thread>

#include "broker_process.h"
#include "fjord/protocol/messages/api_versions_request.h"
#include "fjord/protocol/messages/api_versions_response.h"
#include "fjord/protocol/messages/create_topics_request.h"
#include "fjord/protocol/messages/create_topics_response.h"
#include "fjord/protocol/messages/describe_groups_request.h"
#include "fjord/protocol/messages/describe_groups_response.h"
#include "fjord/protocol/messages/describe_producers_request.h"
#include "fjord/protocol/messages/list_offsets_request.h"
#include "fjord/protocol/messages/list_offsets_response.h"

namespace fjord::client {
namespace {

using protocol::ErrorCode;
using testing::BrokerProcess;

// A loopback port nobody listens on (bound, then closed).
int DeadPort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

class ClientTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { broker_ = new BrokerProcess(FJORD_BINARY); }
  static void TearDownTestSuite() {
    delete broker_;
    broker_ = nullptr;
  }
  void SetUp() override { ASSERT_NE(broker_->port(), 0) << "fjord did not start"; }

  Options Opts() const {
    Options o;
    o.bootstrap = {broker_->bootstrap()};
    o.client_id = "client-test";
    o.request_timeout = std::chrono::milliseconds(10000);
    return o;
  }
  static absl::Status CreateTopic(Client& c, const std::string& name, int partitions) {
    protocol::CreateTopicsRequest req;
    protocol::CreateTopicsRequest::CreatableTopic t;
    t.name = name;
    t.num_partitions = partitions;
    t.replication_factor = 1;
    req.topics.push_back(t);
    auto resp = c.Call<protocol::CreateTopicsResponse>(Target::Controller(), req);
    if (!resp.ok()) return resp.status();
    if (resp->topics.size() != 1 || resp->topics[0].error_code != 0) {
      return absl::InternalError("CreateTopics failed");
    }
    return absl::OkStatus();
  }

  static BrokerProcess* broker_;
};

BrokerProcess* ClientTest::broker_ = nullptr;

TEST_F(ClientTest, BootstrapsAndDescribesTheCluster) {
  Client c(Opts());
  absl::StatusOr<ClusterInfo> info = c.Metadata({}, /*all_topics=*/false);
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_FALSE(info->cluster_id.empty());
  ASSERT_EQ(info->brokers.size(), 1u);
  const BrokerInfo& b = info->brokers.begin()->second;
  EXPECT_EQ(b.port, broker_->port());
  EXPECT_EQ(info->controller, b.id);
  EXPECT_TRUE(info->topics.empty());
}

TEST_F(ClientTest, RoutesToTheControllerTheLeaderAndTheGroupCoordinator) {
  Client c(Opts());
  ASSERT_TRUE(CreateTopic(c, "routed", 3).ok());
  absl::StatusOr<ClusterInfo> info = c.Metadata({"routed"});
  ASSERT_TRUE(info.ok()) << info.status();
  ASSERT_EQ(info->topics.at("routed").partitions.size(), 3u);

  protocol::ListOffsetsRequest lo;
  lo.replica_id = NodeId(-1);
  protocol::ListOffsetsRequest::ListOffsetsTopic t;
  t.name = "routed";
  protocol::ListOffsetsRequest::ListOffsetsPartition p;
  p.partition_index = PartitionId(2);
  p.timestamp = -1;
  t.partitions.push_back(p);
  lo.topics.push_back(t);
  auto offsets = c.Call<protocol::ListOffsetsResponse>(Target::Leader("routed", 2), lo);
  ASSERT_TRUE(offsets.ok()) << offsets.status();
  ASSERT_EQ(offsets->topics.size(), 1u);
  EXPECT_EQ(offsets->topics[0].partitions[0].error_code, 0);
  EXPECT_EQ(offsets->topics[0].partitions[0].offset, Offset(0));

  // A group's coordinator is found (FindCoordinator) before the request goes to it.
  protocol::DescribeGroupsRequest dg;
  dg.groups = {"nobody-here"};
  auto groups = c.Call<protocol::DescribeGroupsResponse>(
      Target::Group("nobody-here"), dg, [](const protocol::DescribeGroupsResponse& r) {
        return r.groups.empty() ? ErrorCode::kNone : static_cast<ErrorCode>(r.groups[0].error_code);
      });
  ASSERT_TRUE(groups.ok()) << groups.status();
  ASSERT_EQ(groups->groups.size(), 1u);
  EXPECT_EQ(groups->groups[0].group_state, "Dead");

  // A partition the topic does not have is an error, not a wait.
  auto missing = c.Call<protocol::ListOffsetsResponse>(Target::Leader("routed", 9), lo);
  ASSERT_FALSE(missing.ok());
  EXPECT_TRUE(absl::IsNotFound(missing.status())) << missing.status();
  EXPECT_NE(missing.status().message().find("UNKNOWN_TOPIC_OR_PARTITION"), std::string::npos);
}

TEST_F(ClientTest, NegotiatesTheHighestCommonVersion) {
  Client c(Opts());
  protocol::ApiVersionsRequest req;
  req.client_software_name = "client-test";
  req.client_software_version = "1";
  auto resp = c.Call<protocol::ApiVersionsResponse>(Target::Any(), req);
  ASSERT_TRUE(resp.ok()) << resp.status();
  int16_t producers_max = -1;
  for (const auto& v : resp->api_keys) {
    if (v.api_key == static_cast<int16_t>(protocol::ApiKey::kDescribeProducers)) {
      producers_max = v.max_version;
    }
  }
  ASSERT_GE(producers_max, 0);
  // Asking only for versions above the broker's: refused before sending.
  protocol::DescribeProducersRequest dp;
  auto refused = c.Call<protocol::ApiVersionsResponse>(Target::Any(), dp, nullptr,
                                                       static_cast<int16_t>(producers_max + 2),
                                                       static_cast<int16_t>(producers_max + 1));
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("UNSUPPORTED_VERSION"), std::string::npos)
      << refused.status();
}

TEST_F(ClientTest, PipelinedCallsAllComplete) {
  Client c(Opts());
  ASSERT_TRUE(c.Metadata({}, false).ok());  // connected
  constexpr int kCalls = 64;
  std::atomic<int> ok{0};
  std::promise<void> all;
  std::atomic<int> left{kCalls};
  for (int i = 0; i < kCalls; ++i) {
    Client::RawCall call;
    call.key = protocol::ApiKey::kApiVersions;
    call.max_version = 3;
    call.encode = [](int16_t version, std::vector<uint8_t>* out) {
      protocol::ApiVersionsRequest req;
      req.client_software_name = "pipe";
      req.client_software_version = "1";
      protocol::EncodeMessage(req, version, out);
    };
    c.CallRaw(Target::Any(), std::move(call), [&](absl::StatusOr<RawResponse> r) {
      if (r.ok() && r->version == 3) ++ok;
      if (--left == 0) all.set_value();
    });
  }
  ASSERT_EQ(all.get_future().wait_for(std::chrono::seconds(20)), std::future_status::ready);
  EXPECT_EQ(ok.load(), kCalls);
}

TEST(ClientFailures, DeadAddressTimesOutWithTheReason) {
  Options o;
  o.bootstrap = {"127.0.0.1:" + std::to_string(DeadPort())};
  o.request_timeout = std::chrono::milliseconds(1500);
  Client c(o);
  const auto start = std::chrono::steady_clock::now();
  absl::StatusOr<ClusterInfo> info = c.Metadata();
  const auto took = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(info.ok());
  EXPECT_TRUE(absl::IsDeadlineExceeded(info.status())) << info.status();
  EXPECT_NE(info.status().message().find("refused"), std::string::npos) << info.status();
  EXPECT_LT(took, std::chrono::seconds(5));
}

TEST(ClientFailures, MalformedBootstrapAddressIsRefused) {
  Options o;
  o.bootstrap = {"localhost"};
  Client c(o);
  absl::StatusOr<ClusterInfo> info = c.Metadata();
  ASSERT_FALSE(info.ok());
  EXPECT_TRUE(absl::IsInvalidArgument(info.status())) << info.status();
  EXPECT_NE(info.status().message().find("host:port"), std::string::npos);
}

TEST(ClientFailures, PeerThatIsNotKafkaIsNamed) {
  // A listener that answers anything with an HTTP error, as a web server would.
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  ASSERT_EQ(::listen(fd, 4), 0);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  std::thread server([fd] {
    int conn = ::accept(fd, nullptr, nullptr);
    if (conn < 0) return;
    char buf[256];
    (void)::read(conn, buf, sizeof buf);
    const char reply[] = "HTTP/1.1 400 Bad Request\r\n\r\n";
    (void)::write(conn, reply, sizeof reply - 1);
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    ::close(conn);
  });
  Options o;
  o.bootstrap = {"127.0.0.1:" + std::to_string(ntohs(a.sin_port))};
  o.request_timeout = std::chrono::milliseconds(3000);
  Client c(o);
  absl::StatusOr<ClusterInfo> info = c.Metadata();
  server.join();
  ::close(fd);
  ASSERT_FALSE(info.ok());
  EXPECT_NE(info.status().message().find("Kafka listener"), std::string::npos) << info.status();
}

}  // namespace
}  // namespace fjord::client
