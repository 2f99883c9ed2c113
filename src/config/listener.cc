#include "fjord/config/listener.h"

#include <map>
#include <optional>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace fjord::config {

namespace {

std::optional<SecurityProtocol> ProtocolByName(absl::string_view name) {
  if (name == "PLAINTEXT") return SecurityProtocol::kPlaintext;
  if (name == "SSL") return SecurityProtocol::kSsl;
  if (name == "SASL_PLAINTEXT") return SecurityProtocol::kSaslPlaintext;
  if (name == "SASL_SSL") return SecurityProtocol::kSaslSsl;
  return std::nullopt;
}

}  // namespace

std::string_view SecurityProtocolName(SecurityProtocol protocol) {
  switch (protocol) {
    case SecurityProtocol::kPlaintext:
      return "PLAINTEXT";
    case SecurityProtocol::kSsl:
      return "SSL";
    case SecurityProtocol::kSaslPlaintext:
      return "SASL_PLAINTEXT";
    case SecurityProtocol::kSaslSsl:
      return "SASL_SSL";
  }
  return "UNKNOWN";
}

absl::StatusOr<std::vector<Listener>> ParseListeners(std::string_view listeners,
                                                     std::string_view protocol_map) {
  std::map<std::string, SecurityProtocol> map;
  for (absl::string_view entry :
       absl::StrSplit(absl::string_view(protocol_map.data(), protocol_map.size()), ',',
                      absl::SkipWhitespace())) {
    std::pair<absl::string_view, absl::string_view> kv =
        absl::StrSplit(absl::StripAsciiWhitespace(entry), absl::MaxSplits(':', 1));
    std::optional<SecurityProtocol> p = ProtocolByName(absl::StripAsciiWhitespace(kv.second));
    if (kv.first.empty() || !p) {
      return absl::InvalidArgumentError(absl::StrCat(
          "invalid listener.security.protocol.map entry '", entry,
          "': expected NAME:PROTOCOL with PROTOCOL one of PLAINTEXT, SSL, SASL_PLAINTEXT, "
          "SASL_SSL"));
    }
    map[std::string(absl::StripAsciiWhitespace(kv.first))] = *p;
  }
  std::vector<Listener> out;
  std::set<std::string> names;
  for (absl::string_view raw : absl::StrSplit(absl::string_view(listeners.data(), listeners.size()),
                                              ',', absl::SkipWhitespace())) {
    absl::string_view entry = absl::StripAsciiWhitespace(raw);
    auto bad = [&](std::string_view why) {
      return absl::InvalidArgumentError(absl::StrCat(
          "invalid listener '", entry, "': ", absl::string_view(why.data(), why.size()),
          " (expected NAME://host:port)"));
    };
    size_t sep = entry.find("://");
    if (sep == absl::string_view::npos || sep == 0) return bad("no NAME://");
    Listener l;
    l.name = std::string(entry.substr(0, sep));
    absl::string_view hostport = entry.substr(sep + 3);
    size_t colon = hostport.rfind(':');
    if (colon == absl::string_view::npos) return bad("no port");
    absl::string_view host = hostport.substr(0, colon);
    if (!host.empty() && host.front() == '[') {
      if (host.back() != ']') return bad("unclosed '['");
      host = host.substr(1, host.size() - 2);
    }
    l.host = std::string(host);
    uint32_t port = 0;
    if (!absl::SimpleAtoi(hostport.substr(colon + 1), &port) || port > 65535) {
      return bad("port must be 0..65535");
    }
    l.port = static_cast<uint16_t>(port);
    auto it = map.find(l.name);
    if (it == map.end()) {
      // Kafka accepts a listener named after a protocol without a map entry.
      std::optional<SecurityProtocol> p = ProtocolByName(l.name);
      if (!p) {
        return absl::InvalidArgumentError(
            absl::StrCat("listener name ", l.name, " is not in listener.security.protocol.map"));
      }
      l.security_protocol = *p;
    } else {
      l.security_protocol = it->second;
    }
    if (!names.insert(l.name).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("listener name ", l.name, " is used more than once"));
    }
    out.push_back(std::move(l));
  }
  return out;
}

}  // namespace fjord::config
