#pragma once
// Listener strings as Kafka writes them: "NAME://host:port,..." plus the listener-name to
// security-protocol map.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace fjord::config {

enum class SecurityProtocol : int16_t {
  kPlaintext = 0,
  kSsl = 1,
  kSaslPlaintext = 2,
  kSaslSsl = 3
};

struct Listener {
  std::string name;
  std::string host;  // "" = all interfaces
  uint16_t port = 0;
  SecurityProtocol security_protocol = SecurityProtocol::kPlaintext;
};

// Parses "NAME://host:port,..." (IPv6 hosts in brackets) with
// listener.security.protocol.map ("NAME:PROTOCOL,..."). Each name once; each name must be
// in the map.
absl::StatusOr<std::vector<Listener>> ParseListeners(std::string_view listeners,
                                                     std::string_view protocol_map);
std::string_view SecurityProtocolName(SecurityProtocol protocol);

}  // namespace fjord::config
