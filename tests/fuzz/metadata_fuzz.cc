// Fuzzes what Fjord reads from its own metadata log and from operators: metadata records
// (decode, re-encode, replay a stream of them into an image) and setting values (every
// registered setting's validation, listener lists). Nothing may crash, hang or leak; a
// record that decodes must re-encode to bytes that decode to the same record kind.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>
#include <string_view>

#include "fjord/config/config_def.h"
#include "fjord/config/listener.h"
#include "fjord/metadata/metadata_image.h"
#include "fjord/metadata/metadata_record.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t mode = data[0] % 2;
  std::span<const uint8_t> in(data + 1, size - 1);
  if (mode == 0) {
    // A stream of records, each prefixed by one length byte, replayed in order.
    fjord::metadata::MetadataDelta delta(fjord::metadata::MetadataImage::Empty());
    while (!in.empty()) {
      size_t n = std::min<size_t>(in[0], in.size() - 1);
      std::span<const uint8_t> value = in.subspan(1, n);
      in = in.subspan(1 + n);
      absl::StatusOr<fjord::metadata::MetadataRecord> r =
          fjord::metadata::DecodeMetadataRecord(value);
      if (!r.ok()) continue;
      std::vector<uint8_t> again = fjord::metadata::EncodeMetadataRecord(*r);
      absl::StatusOr<fjord::metadata::MetadataRecord> r2 =
          fjord::metadata::DecodeMetadataRecord(again);
      if (!r2.ok() || r2->index() != r->index()) std::abort();
      (void)delta.Replay(*r);
    }
    (void)delta.Apply(fjord::Offset(0));
    return 0;
  }
  std::string_view text(reinterpret_cast<const char*>(in.data()), in.size());
  for (const fjord::config::ConfigDef& def : fjord::config::BrokerConfigDefs()) {
    (void)fjord::config::ValidateValue(def, text);
  }
  for (const fjord::config::ConfigDef& def : fjord::config::TopicConfigDefs()) {
    (void)fjord::config::ValidateValue(def, text);
  }
  (void)fjord::config::ParseListeners(text, "PLAINTEXT:PLAINTEXT,SSL:SSL");
  return 0;
}
