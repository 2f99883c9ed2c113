#include "fjord/config/listener.h"

#include <gtest/gtest.h>

namespace fjord::config {
namespace {

constexpr std::string_view kMap =
    "PLAINTEXT:PLAINTEXT,SSL:SSL,SASL_PLAINTEXT:SASL_PLAINTEXT,SASL_SSL:SASL_SSL";

TEST(Listeners, ParsesHostsPortsAndProtocols) {
  absl::StatusOr<std::vector<Listener>> l =
      ParseListeners("PLAINTEXT://127.0.0.1:9092, SSL://:9093,INTERNAL://[::1]:0",
                     std::string(kMap) + ",INTERNAL:SASL_SSL");
  ASSERT_TRUE(l.ok()) << l.status();
  ASSERT_EQ(l->size(), 3u);
  EXPECT_EQ((*l)[0].name, "PLAINTEXT");
  EXPECT_EQ((*l)[0].host, "127.0.0.1");
  EXPECT_EQ((*l)[0].port, 9092);
  EXPECT_EQ((*l)[0].security_protocol, SecurityProtocol::kPlaintext);
  EXPECT_EQ((*l)[1].host, "");
  EXPECT_EQ((*l)[1].security_protocol, SecurityProtocol::kSsl);
  EXPECT_EQ((*l)[2].host, "::1");
  EXPECT_EQ((*l)[2].port, 0);
  EXPECT_EQ((*l)[2].security_protocol, SecurityProtocol::kSaslSsl);
  EXPECT_EQ(SecurityProtocolName((*l)[2].security_protocol), "SASL_SSL");
}

TEST(Listeners, RejectsMalformedEntries) {
  for (std::string_view bad :
       {"127.0.0.1:9092", "PLAINTEXT://host", "PLAINTEXT://h:70000", "PLAINTEXT://h:-1",
        "PLAINTEXT://[::1:9092", "://h:1", "NOPE://h:1", "PLAINTEXT://a:1,PLAINTEXT://b:2"}) {
    EXPECT_FALSE(ParseListeners(bad, kMap).ok()) << bad;
  }
  EXPECT_FALSE(ParseListeners("PLAINTEXT://h:1", "PLAINTEXT:TLS").ok());
}

}  // namespace
}  // namespace fjord::config
