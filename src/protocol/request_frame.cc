#include "fjord/protocol/request_frame.h"

#include <string>

#include "fjord/protocol/wire.h"

namespace fjord::protocol {

absl::Status ParseRequestFrame(std::span<const uint8_t> frame, RequestFrame* out) {
  Reader peek(frame);
  int16_t key = peek.ReadInt16();
  int16_t version = peek.ReadInt16();
  if (!peek.ok()) return absl::InvalidArgumentError("request frame shorter than its header");
  const ApiInfo* api = FindApi(key);
  if (api == nullptr) return absl::NotFoundError("unknown API key " + std::to_string(key));
  if (version < 0) return absl::InvalidArgumentError("negative request version");
  out->api = api;
  out->version = version;
  out->header_version = RequestHeaderVersion(*api, version);
  size_t consumed = 0;
  absl::Status st = DecodeMessage(frame, out->header_version, &out->header, &consumed);
  if (!st.ok()) return st;
  out->body = frame.subspan(consumed);
  return absl::OkStatus();
}

}  // namespace fjord::protocol
