#include "request.h"

#include "fjord/base/endian.h"

namespace fjord::server {

spdlog::logger& Logger() {
  static spdlog::logger& logger = NamedLogger("server");
  return logger;
}

net::Outbound FrameResponse(const Request& r, size_t body_size,
                            const std::function<void(protocol::Writer&)>& write_body,
                            uint64_t spliced_bytes,
                            const std::vector<std::vector<net::FileSlice>>* splices) {
  const bool flexible_header = protocol::ResponseHeaderVersion(*r.api, r.version) >= 1;
  const size_t header_size = 4 + (flexible_header ? 1 : 0);
  const size_t in_memory = header_size + body_size - spliced_bytes;
  net::Outbound out;
  // Written in full below, so no need to zero it first.
  out.bytes.resize(4 + in_memory);
  be::Store32(out.bytes.data(), static_cast<uint32_t>(header_size + body_size));
  be::Store32(out.bytes.data() + 4, static_cast<uint32_t>(r.correlation_id));
  if (flexible_header) out.bytes[8] = 0;  // no tagged fields in the header
  const size_t body_at = 4 + header_size;
  protocol::Writer w(out.bytes.data() + body_at, in_memory - header_size);
  write_body(w);
  if (!w.ok() || w.position() != in_memory - header_size) {
    Logger().error("{} v{}: response encoding wrote {} of {} bytes", r.api->name, r.version,
                   w.position(), in_memory - header_size);
  }
  if (splices != nullptr) {
    for (const protocol::Writer::Splice& s : w.splices()) {
      for (const net::FileSlice& slice : (*splices)[static_cast<size_t>(s.id)]) {
        out.slices.emplace_back(body_at + s.position, slice);
      }
    }
  }
  return out;
}

}  // namespace fjord::server
