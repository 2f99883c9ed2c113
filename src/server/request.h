#pragma once
// One request as the handlers see it, and the helpers that answer it. Internal to server/.

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "fjord/base/logging.h"
#include "fjord/net/server.h"
#include "fjord/protocol/api_keys.h"
#include "fjord/protocol/error_codes.h"
#include "fjord/protocol/wire.h"
#include "fjord/server/kafka_apis.h"

namespace fjord::server {

spdlog::logger& Logger();

struct Request {
  net::RequestContext conn;
  const protocol::ApiInfo* api = nullptr;
  int16_t version = 0;
  int32_t correlation_id = 0;
  std::optional<std::string> client_id;
  // The frame; decoded messages may point into it (records), so it lives as long as the
  // request.
  std::shared_ptr<ByteBuffer> frame;
  std::span<const uint8_t> body;
  std::function<void(net::Reply)> done;
};
using RequestPtr = std::shared_ptr<Request>;

// The response frame: size prefix, response header, then the body. Spliced records in the
// body (RecordsView::Spliced) become file slices: splices[id] are the slices of splice id.
net::Outbound FrameResponse(const Request& r, size_t body_size,
                            const std::function<void(protocol::Writer&)>& write_body,
                            uint64_t spliced_bytes,
                            const std::vector<std::vector<net::FileSlice>>* splices);

template <typename Message>
void Respond(const Request& r, const Message& m, uint64_t spliced_bytes = 0,
             const std::vector<std::vector<net::FileSlice>>* splices = nullptr) {
  const int16_t v = r.version;
  r.done(net::Reply::Respond(FrameResponse(
      r, m.EncodedSize(v), [&](protocol::Writer& w) { m.Encode(w, v); }, spliced_bytes, splices)));
}

// Decodes the body; on failure closes the connection with a log line (principle 8).
template <typename Message>
bool DecodeBody(const Request& r, Message* m) {
  size_t consumed = 0;
  absl::Status s = protocol::DecodeMessage(r.body, r.version, m, &consumed);
  if (!s.ok()) {
    r.done(net::Reply::Close(std::string("malformed request: ") + std::string(s.message())));
    return false;
  }
  return true;
}

}  // namespace fjord::server
