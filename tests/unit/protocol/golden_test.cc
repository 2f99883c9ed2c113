// Decodes the requests real clients sent (captured by tests/golden/capture.sh into
// tests/fixtures/golden/<client-id>/<Api>-v<version>.bin) with the generated types.
// Every frame must decode completely, and encoding the decoded message again must give
// the client's bytes exactly. FJORD_GOLDEN_DIR overrides the fixture folder (CI points it
// at a fresh capture as well as at the committed one).

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "fjord/protocol/api_dispatch.h"
#include "fjord/protocol/api_keys.h"
#include "fjord/protocol/messages/produce_request.h"
#include "fjord/protocol/record_batch.h"
#include "fjord/protocol/request_frame.h"

namespace fjord::protocol {
namespace {

namespace fs = std::filesystem;

fs::path GoldenDir() {
  if (const char* env = std::getenv("FJORD_GOLDEN_DIR")) return env;
  return FJORD_GOLDEN_FIXTURES;
}

std::vector<uint8_t> ReadFile(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(f), {});
}

struct Fixture {
  std::string client;
  std::string file;
  std::vector<uint8_t> frame;
};

std::vector<Fixture> LoadFixtures() {
  std::vector<Fixture> out;
  fs::path dir = GoldenDir();
  if (!fs::exists(dir)) return out;
  for (const auto& client : fs::directory_iterator(dir)) {
    if (!client.is_directory()) continue;
    for (const auto& f : fs::directory_iterator(client.path())) {
      if (f.path().extension() != ".bin") continue;
      out.push_back(
          {client.path().filename().string(), f.path().filename().string(), ReadFile(f.path())});
    }
  }
  return out;
}

TEST(Golden, EveryCapturedRequestDecodesAndReencodesExactly) {
  std::vector<Fixture> fixtures = LoadFixtures();
  ASSERT_FALSE(fixtures.empty()) << "no fixtures under " << GoldenDir();
  for (const Fixture& fx : fixtures) {
    SCOPED_TRACE(fx.client + "/" + fx.file);
    RequestFrame req;
    absl::Status st = ParseRequestFrame(fx.frame, &req);
    ASSERT_TRUE(st.ok()) << st.message();
    EXPECT_EQ(std::string(req.api->name) + "-v" + std::to_string(req.version) + ".bin", fx.file);
    bool visited = VisitRequestType(req.header.request_api_key, [&](auto type) {
      using Request = typename decltype(type)::type;
      Request msg;
      size_t consumed = 0;
      absl::Status body_status = DecodeMessage(req.body, req.version, &msg, &consumed);
      ASSERT_TRUE(body_status.ok()) << body_status.message();
      EXPECT_EQ(consumed, req.body.size()) << "bytes left after the body";
      std::vector<uint8_t> again;
      EncodeMessage(req.header, req.header_version, &again);
      EncodeMessage(msg, req.version, &again);
      EXPECT_EQ(again, fx.frame) << "re-encoding differs from the client's bytes";
    });
    EXPECT_TRUE(visited);
  }
}

// The capture must have seen each client get through start-up and produce; a client that
// silently failed would otherwise leave a thin fixture set that still passes.
TEST(Golden, FixturesCoverTheRequestsEachClientMustSend) {
  std::map<std::string, std::set<std::string>> apis;
  for (const Fixture& fx : LoadFixtures()) {
    apis[fx.client].insert(fx.file.substr(0, fx.file.find("-v")));
  }
  const std::map<std::string, std::vector<std::string>> required = {
      {"kcat-none", {"ApiVersions", "Metadata", "Produce"}},
      {"kcat-gzip", {"Produce"}},
      {"kcat-snappy", {"Produce"}},
      {"kcat-lz4", {"Produce"}},
      {"kcat-zstd", {"Produce"}},
      {"kcat-group", {"FindCoordinator", "JoinGroup", "SyncGroup", "OffsetFetch"}},
      {"confluent-idempotent", {"InitProducerId", "Produce"}},
      {"kafka-python-producer", {"ApiVersions", "Metadata", "Produce"}},
      {"kafka-python-consumer", {"FindCoordinator", "JoinGroup", "SyncGroup"}},
      {"kafkajs-producer", {"ApiVersions", "Metadata", "Produce"}},
      {"kafkajs-consumer", {"FindCoordinator", "JoinGroup", "SyncGroup"}},
  };
  for (const auto& [client, names] : required) {
    for (const auto& name : names) {
      EXPECT_TRUE(apis[client].count(name)) << client << " sent no " << name;
    }
  }
}

// What each capture client was told to send (tests/golden/capture.sh and clients/).
struct Sent {
  Compression codec;
  bool idempotent;
  bool all_in_first_request;  // librdkafka batches all ten lines of stdin in one request
};
const std::map<std::string, Sent> kSent = {
    {"kcat-none", {Compression::kNone, false, true}},
    {"kcat-gzip", {Compression::kGzip, false, true}},
    {"kcat-snappy", {Compression::kSnappy, false, true}},
    {"kcat-lz4", {Compression::kLz4, false, true}},
    {"kcat-zstd", {Compression::kZstd, false, true}},
    {"confluent-idempotent", {Compression::kZstd, true, true}},
    {"kafka-python-producer", {Compression::kGzip, false, false}},
    {"kafkajs-producer", {Compression::kGzip, false, false}},
};

std::string Text(std::span<const uint8_t> b) { return std::string(b.begin(), b.end()); }

// A produce request built by a real client decodes to the batches and records it sent:
// key-<i> / value-<i> with header h1=v1, in the codec the client was configured with.
TEST(Golden, ProduceRequestsCarryTheRecordsTheClientsSent) {
  int checked = 0;
  for (const Fixture& fx : LoadFixtures()) {
    if (fx.file.rfind("Produce-", 0) != 0) continue;
    SCOPED_TRACE(fx.client + "/" + fx.file);
    auto sent = kSent.find(fx.client);
    ASSERT_NE(sent, kSent.end()) << "no expectation for this client";
    RequestFrame frame;
    ASSERT_TRUE(ParseRequestFrame(fx.frame, &frame).ok());
    ProduceRequest req;
    ASSERT_TRUE(DecodeMessage(frame.body, frame.version, &req).ok());
    ASSERT_EQ(req.topic_data.size(), 1u);
    EXPECT_EQ(req.topic_data[0].name, "golden");
    int next = 0;
    for (const auto& partition : req.topic_data[0].partition_data) {
      BatchValidation produce_rules;
      produce_rules.require_dense_offsets = true;
      RecordBatchIterator batches(partition.records.bytes, produce_rules);
      while (batches.Next()) {
        const RecordBatchHeader& h = batches.batch().header();
        EXPECT_EQ(h.compression(), sent->second.codec);
        EXPECT_EQ(h.is_idempotent(), sent->second.idempotent);
        RecordValidation record_rules;
        record_rules.require_dense_offsets = true;
        RecordReader records(batches.batch(), record_rules);
        while (records.Next()) {
          const Record& r = records.record();
          ASSERT_TRUE(r.key && r.value);
          EXPECT_EQ(Text(*r.key), "key-" + std::to_string(next));
          EXPECT_EQ(Text(*r.value), "value-" + std::to_string(next));
          ASSERT_EQ(r.headers.size(), 1u);
          EXPECT_EQ(r.headers[0].key, "h1");
          ASSERT_TRUE(r.headers[0].value.has_value());
          EXPECT_EQ(Text(*r.headers[0].value), "v1");
          EXPECT_GT(r.timestamp, 1600000000000);  // a real wall-clock CreateTime
          ++next;
        }
        ASSERT_TRUE(records.status().ok()) << records.status();
      }
      ASSERT_TRUE(batches.status().ok()) << batches.status();
      EXPECT_FALSE(batches.has_partial_tail());
    }
    if (sent->second.all_in_first_request) {
      EXPECT_EQ(next, 10);
    } else {
      EXPECT_GE(next, 1);
    }
    ++checked;
  }
  EXPECT_GE(checked, 8);
}

}  // namespace
}  // namespace fjord::protocol
