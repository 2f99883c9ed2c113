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

}  // namespace
}  // namespace fjord::protocol
