#pragma once
// Splits one request frame (the bytes after the int32 size prefix) into its header and
// body. The header's version follows from the API key and request version, which sit at
// fixed offsets in every header version; the body is left undecoded for the handler.

#include <cstdint>
#include <span>

#include "absl/status/status.h"
#include "fjord/protocol/api_keys.h"
#include "fjord/protocol/messages/request_header.h"

namespace fjord::protocol {

struct RequestFrame {
  const ApiInfo* api = nullptr;  // never null after a successful parse
  int16_t version = 0;           // the request (body) version; may be outside api's range
  int16_t header_version = 0;
  RequestHeader header;
  std::span<const uint8_t> body;  // points into the frame
};

// Fails with InvalidArgument for a frame too short to hold a header or with a malformed
// header, and with NotFound for an API key the specs do not define. A version outside the
// API's range is not an error here: the caller answers it (KIP-511 for ApiVersions).
absl::Status ParseRequestFrame(std::span<const uint8_t> frame, RequestFrame* out);

}  // namespace fjord::protocol
