// libFuzzer target: arbitrary bytes as a request frame, and as a response body of any API
// and version. Decoding must never crash, hang or allocate beyond what the input justifies;
// whatever decodes must encode to bytes that decode to the same message again.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>
#include <vector>

#include "fjord/protocol/api_dispatch.h"
#include "fjord/protocol/request_frame.h"

namespace fp = fjord::protocol;

namespace {

template <typename Message>
void CheckStable(const Message& m, int16_t version) {
  std::vector<uint8_t> bytes = fp::EncodeMessage(m, version);
  if (bytes.size() != m.EncodedSize(version)) std::abort();
  Message again;
  if (!fp::DecodeMessage(bytes, version, &again).ok()) std::abort();
  // Compared as bytes, not with ==: a float64 field may hold NaN, which never equals
  // itself although it round-trips bit for bit.
  if (fp::EncodeMessage(again, version) != bytes) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::span<const uint8_t> in(data, size);

  // 1. As a request frame: header, then the body at the version the header names.
  fp::RequestFrame frame;
  if (fp::ParseRequestFrame(in, &frame).ok()) {
    int16_t version = frame.version;
    fp::VisitRequestType(frame.header.request_api_key, [&](auto type) {
      using Request = typename decltype(type)::type;
      Request req;
      if (fp::DecodeMessage(frame.body, version, &req).ok()) CheckStable(req, version);
    });
  }

  // 2. As a response: first two bytes pick the API, the next two the version.
  if (size >= 4) {
    int16_t key = static_cast<int16_t>(data[0] % 90);
    int16_t version = static_cast<int16_t>(data[1] % 20);
    std::span<const uint8_t> body = in.subspan(2);
    fp::VisitResponseType(key, [&](auto type) {
      using Response = typename decltype(type)::type;
      Response resp;
      if (fp::DecodeMessage(body, version, &resp).ok()) CheckStable(resp, version);
    });
  }
  return 0;
}
