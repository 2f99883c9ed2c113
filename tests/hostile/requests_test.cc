// Requests with fields Kafka refuses (ListOffsets timestamps, ApiVersions software names),
// a group assignment larger than the offsets topic takes, the deletion of an internal
// topic, and an unreadable record in a coordinator's partition on disk.

#include <fcntl.h>

#include <filesystem>
#include <fstream>
#include <limits>

#include "fjord/coordinator/group_records.h"
#include "fjord/protocol/messages/api_versions_request.h"
#include "fjord/protocol/messages/api_versions_response.h"
#include "fjord/protocol/messages/delete_topics_request.h"
#include "fjord/protocol/messages/delete_topics_response.h"
#include "fjord/protocol/messages/join_group_request.h"
#include "fjord/protocol/messages/join_group_response.h"
#include "fjord/protocol/messages/list_offsets_request.h"
#include "fjord/protocol/messages/list_offsets_response.h"
#include "fjord/protocol/messages/offset_commit_request.h"
#include "fjord/protocol/messages/offset_commit_response.h"
#include "fjord/protocol/messages/offset_fetch_request.h"
#include "fjord/protocol/messages/offset_fetch_response.h"
#include "fjord/protocol/messages/sync_group_request.h"
#include "fjord/protocol/messages/sync_group_response.h"
#include "fjord/protocol/record_batch.h"
#include "hostile.h"

namespace fjord::hostile {
namespace {

class RequestsTest : public HostileTest {
 protected:
  // ListOffsets of partition 0 of `topic` at `version` for each timestamp; the answers.
  std::vector<protocol::ListOffsetsResponse::ListOffsetsPartitionResponse> ListOffsets(
      const std::string& topic, std::vector<int64_t> timestamps, int16_t version,
      bool same_partition = true) {
    protocol::ListOffsetsRequest req;
    req.replica_id = NodeId(-1);
    protocol::ListOffsetsRequest::ListOffsetsTopic t;
    t.name = topic;
    int32_t p = 0;
    for (int64_t ts : timestamps) {
      protocol::ListOffsetsRequest::ListOffsetsPartition lp;
      lp.partition_index = PartitionId(same_partition ? 0 : p++);
      lp.timestamp = ts;
      t.partitions.push_back(lp);
    }
    req.topics.push_back(t);
    auto resp = client().Call<protocol::ListOffsetsResponse>(client::Target::Leader(topic, 0), req,
                                                             nullptr, version, version);
    EXPECT_TRUE(resp.ok()) << resp.status();
    if (!resp.ok() || resp->topics.empty()) return {};
    return resp->topics[0].partitions;
  }
};

TEST_F(RequestsTest, ListOffsetsWithUnknownNegativeTimestampsIsUnsupportedVersion) {
  CreateTopic("lo", 4);
  ASSERT_EQ(Err(Produce("lo", 0, SmallBatch()).error_code), ErrorCode::kNone);
  for (int64_t ts : {int64_t{-5}, int64_t{-6}, int64_t{-99}, std::numeric_limits<int64_t>::min()}) {
    auto r = ListOffsets("lo", {ts}, 8);
    ASSERT_EQ(r.size(), 1u);
    EXPECT_EQ(Err(r[0].error_code), ErrorCode::kUnsupportedVersion) << ts;
    EXPECT_EQ(r[0].offset, Offset(-1));
  }
  // Each special timestamp from the version that brought it.
  EXPECT_EQ(Err(ListOffsets("lo", {-3}, 6)[0].error_code), ErrorCode::kUnsupportedVersion);
  EXPECT_EQ(Err(ListOffsets("lo", {-3}, 7)[0].error_code), ErrorCode::kNone);
  EXPECT_EQ(Err(ListOffsets("lo", {-4}, 7)[0].error_code), ErrorCode::kUnsupportedVersion);
  EXPECT_EQ(Err(ListOffsets("lo", {-4}, 8)[0].error_code), ErrorCode::kNone);
  auto tiered = ListOffsets("lo", {-5}, 9);
  EXPECT_EQ(Err(tiered[0].error_code), ErrorCode::kNone);
  EXPECT_EQ(tiered[0].offset, Offset(-1));  // nothing is tiered
  auto latest = ListOffsets("lo", {-1}, 1);
  EXPECT_EQ(latest[0].offset, Offset(1));
  ExpectUnharmed();
}

TEST_F(RequestsTest, ListOffsetsNamingAPartitionTwiceIsInvalidRequestForEach) {
  CreateTopic("lo-dup", 2);
  auto r = ListOffsets("lo-dup", {-1, -2}, 8);  // partition 0 twice
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(Err(r[0].error_code), ErrorCode::kInvalidRequest);
  EXPECT_EQ(Err(r[1].error_code), ErrorCode::kInvalidRequest);
  r = ListOffsets("lo-dup", {-1, -2}, 8, false);  // partitions 0 and 1
  EXPECT_EQ(Err(r[0].error_code), ErrorCode::kNone);
  EXPECT_EQ(Err(r[1].error_code), ErrorCode::kNone);
  ExpectUnharmed();
}

TEST_F(RequestsTest, ApiVersionsWithAnInvalidSoftwareNameIsInvalidRequest) {
  for (auto [name, version] :
       std::vector<std::pair<std::string, std::string>>{{"", "1.0"},
                                                        {"-lead", "1.0"},
                                                        {"trail.", "1.0"},
                                                        {"sp ace", "1.0"},
                                                        {"ok", ""},
                                                        {"ok", "1.0+build"},
                                                        {std::string(5000, 'x') + "$", "1"}}) {
    protocol::ApiVersionsRequest req;
    req.client_software_name = name;
    req.client_software_version = version;
    auto resp =
        client().Call<protocol::ApiVersionsResponse>(client::Target::Any(), req, nullptr, 3, 3);
    ASSERT_TRUE(resp.ok()) << resp.status();
    EXPECT_EQ(Err(resp->error_code), ErrorCode::kInvalidRequest) << name << " " << version;
    EXPECT_TRUE(resp->api_keys.empty());
  }
  protocol::ApiVersionsRequest good;
  good.client_software_name = "apache-kafka-java";
  good.client_software_version = "3.7.0";
  auto resp =
      client().Call<protocol::ApiVersionsResponse>(client::Target::Any(), good, nullptr, 3, 3);
  ASSERT_TRUE(resp.ok()) << resp.status();
  EXPECT_EQ(Err(resp->error_code), ErrorCode::kNone);
  EXPECT_FALSE(resp->api_keys.empty());
  ExpectUnharmed();
}

// A leader's 10 MB assignment is more than __consumer_offsets takes (message.max.bytes):
// Kafka answers UNKNOWN_SERVER_ERROR, not a retriable error a client would loop on.
TEST_F(RequestsTest, SyncGroupWithATenMegabyteAssignmentIsUnknownServerError) {
  protocol::JoinGroupRequest join;
  join.group_id = "big-sync";
  join.session_timeout_ms = 10000;
  join.rebalance_timeout_ms = 10000;
  join.protocol_type = "consumer";
  protocol::JoinGroupRequest::JoinGroupRequestProtocol proto;
  proto.name = "range";
  proto.metadata = {0, 0, 0, 0, 0, 0, 0, 0};
  join.protocols.push_back(proto);
  auto first = client().CallWithin<protocol::JoinGroupResponse>(
      std::chrono::milliseconds(20000), client::Target::Group("big-sync"), join);
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_EQ(Err(first->error_code), ErrorCode::kMemberIdRequired);
  join.member_id = first->member_id;
  auto joined = client().CallWithin<protocol::JoinGroupResponse>(
      std::chrono::milliseconds(20000), client::Target::Group("big-sync"), join);
  ASSERT_TRUE(joined.ok()) << joined.status();
  ASSERT_EQ(Err(joined->error_code), ErrorCode::kNone);

  protocol::SyncGroupRequest sync;
  sync.group_id = "big-sync";
  sync.generation_id = joined->generation_id;
  sync.member_id = joined->member_id;
  sync.protocol_type = "consumer";
  sync.protocol_name = "range";
  protocol::SyncGroupRequest::SyncGroupRequestAssignment a;
  a.member_id = joined->member_id;
  a.assignment.assign(10 << 20, 0x5a);
  sync.assignments.push_back(a);
  auto synced = client().CallWithin<protocol::SyncGroupResponse>(
      std::chrono::milliseconds(20000), client::Target::Group("big-sync"), sync);
  ASSERT_TRUE(synced.ok()) << synced.status();
  EXPECT_EQ(Err(synced->error_code), ErrorCode::kUnknownServerError);
  ExpectUnharmed(128 * 1024);
}

TEST_F(RequestsTest, OversizedCommitMetadataIsOffsetMetadataTooLargeForThatPartitionOnly) {
  CreateTopic("meta", 2);
  protocol::OffsetCommitRequest req;
  req.group_id = "meta-group";
  protocol::OffsetCommitRequest::OffsetCommitRequestTopic t;
  t.name = "meta";
  protocol::OffsetCommitRequest::OffsetCommitRequestPartition p;
  p.partition_index = PartitionId(0);
  p.committed_offset = Offset(1);
  p.committed_metadata = std::string(1 << 20, 'm');
  t.partitions.push_back(p);
  p.partition_index = PartitionId(1);
  p.committed_metadata = "small";
  t.partitions.push_back(p);
  req.topics.push_back(t);
  auto resp =
      client().Call<protocol::OffsetCommitResponse>(client::Target::Group("meta-group"), req);
  ASSERT_TRUE(resp.ok()) << resp.status();
  EXPECT_EQ(Err(resp->topics[0].partitions[0].error_code), ErrorCode::kOffsetMetadataTooLarge);
  EXPECT_EQ(Err(resp->topics[0].partitions[1].error_code), ErrorCode::kNone);
  ExpectUnharmed();
}

// Kafka lets DeleteTopics remove __consumer_offsets; the broker must survive it: groups
// come back on a new offsets topic, and a later SIGTERM stops cleanly (StopBroker checks).
TEST_F(RequestsTest, DeletingTheOffsetsTopicIsAcceptedAndGroupsComeBack) {
  CreateTopic("del-internal", 1);
  auto commit = [&](int64_t offset) {
    const protocol::OffsetCommitRequest req = CommitRequestOf("del-group", "del-internal", offset);
    auto resp =
        client().Call<protocol::OffsetCommitResponse>(client::Target::Group("del-group"), req);
    return resp.ok() ? Err(resp->topics[0].partitions[0].error_code)
                     : ErrorCode::kUnknownServerError;
  };
  ASSERT_EQ(commit(3), ErrorCode::kNone);
  protocol::DeleteTopicsRequest del;
  del.topic_names = {"__consumer_offsets"};
  del.timeout_ms = 10000;
  auto resp = client().Call<protocol::DeleteTopicsResponse>(client::Target::Controller(), del,
                                                            nullptr, 5, 1);
  ASSERT_TRUE(resp.ok()) << resp.status();
  ASSERT_EQ(resp->responses.size(), 1u);
  EXPECT_EQ(Err(resp->responses[0].error_code), ErrorCode::kNone);
  // The group coordinator creates the topic again on the next request.
  ErrorCode e = ErrorCode::kUnknownServerError;
  for (int i = 0; i < 50 && e != ErrorCode::kNone; ++i) {
    e = commit(4);
    if (e != ErrorCode::kNone) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(e, ErrorCode::kNone);
  ExpectUnharmed();
}

// A record in __consumer_offsets that no Kafka version wrote (a damaged disk, or a bug):
// the coordinator skips it with a log line and loads every other group.
class UnreadableRecordTest : public HostileTest {};

TEST_F(UnreadableRecordTest, CoordinatorSkipsAnUnreadableRecordAndLoadsTheRest) {
  CreateTopic("unreadable", 1);
  const protocol::OffsetCommitRequest req = CommitRequestOf("survivor", "unreadable", 42);
  auto committed =
      client().Call<protocol::OffsetCommitResponse>(client::Target::Group("survivor"), req);
  ASSERT_TRUE(committed.ok()) << committed.status();
  ASSERT_EQ(Err(committed->topics[0].partitions[0].error_code), ErrorCode::kNone);

  // Crash, then append a well-formed batch (valid CRC) whose record cannot be decoded to
  // the group's partition, where recovery will find it.
  client_.reset();
  probe_.reset();
  broker_->Kill();
  const int32_t partition = coordinator::PartitionForGroup("survivor", 50);
  const std::string dir = broker_->data_dir() + "/__consumer_offsets-" + std::to_string(partition);
  std::string segment;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.path().extension() == ".log" && entry.path().string() > segment) {
      segment = entry.path().string();
    }
  }
  ASSERT_FALSE(segment.empty());
  std::vector<uint8_t> bytes;
  {
    std::ifstream in(segment, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), {});
  }
  Offset next(0);
  protocol::RecordBatchIterator it(bytes);
  while (it.Next()) next = it.batch().header().next_offset();
  ASSERT_TRUE(it.status().ok());
  ASSERT_GT(next.value, 0);
  protocol::RecordBatchBuilder b(next);
  // An offset commit key (version 1) whose group name claims 16 bytes but has 4.
  const std::vector<uint8_t> key = {0x00, 0x01, 0x00, 0x10, 'j', 'u', 'n', 'k'};
  const std::vector<uint8_t> value = {0x00, 0x03, 1, 2, 3};
  b.Add(0, std::span<const uint8_t>(key), std::span<const uint8_t>(value));
  std::vector<uint8_t> batch = *std::move(b).Build();
  {
    std::ofstream out(segment, std::ios::binary | std::ios::app);
    out.write(reinterpret_cast<const char*>(batch.data()),
              static_cast<std::streamsize>(batch.size()));
  }

  broker_->Start();
  ASSERT_NE(broker_->port(), 0) << broker_->log();
  probe_ = std::make_unique<Probe>(broker_->bootstrap(), "hostile-probe");
  client_ = std::make_unique<client::Client>(Opts());
  protocol::OffsetFetchRequest fetch;
  fetch.group_id = "survivor";
  protocol::OffsetFetchRequest::OffsetFetchRequestTopic ft;
  ft.name = "unreadable";
  ft.partition_indexes = {PartitionId(0)};
  fetch.topics = std::vector<protocol::OffsetFetchRequest::OffsetFetchRequestTopic>{ft};
  auto got = client().Call<protocol::OffsetFetchResponse>(client::Target::Group("survivor"), fetch,
                                                          nullptr, 7, 1);
  ASSERT_TRUE(got.ok()) << got.status() << " port " << broker_->port() << " alive "
                        << broker_->alive() << "\n"
                        << broker_->log();
  ASSERT_EQ(Err(got->error_code), ErrorCode::kNone);
  ASSERT_EQ(got->topics.size(), 1u);
  EXPECT_EQ(got->topics[0].partitions[0].committed_offset, Offset(42));
  EXPECT_NE(broker_->log().find("skipping the unreadable record"), std::string::npos)
      << broker_->log();
  // TearDownTestSuite stops the broker with SIGTERM and checks it exits cleanly.
}

}  // namespace
}  // namespace fjord::hostile
