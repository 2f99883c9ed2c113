// Fuzzes the record readers: arbitrary bytes as a v2 records buffer (every batch, every
// record, with a small decompression limit), the same bytes with CRC checking off and
// with the CRC of the first batch repaired (so mutations reach the record parser), and as
// a magic 0/1 message set. Nothing may crash, read out of bounds or allocate unboundedly.
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "fjord/protocol/compression.h"
#include "fjord/protocol/legacy_message_set.h"
#include "fjord/protocol/record_batch.h"
#include "fjord/protocol/record_batch_builder.h"

namespace {

using namespace fjord::protocol;

constexpr size_t kMaxDecompressed = 1 << 20;

void ReadBatches(std::span<const uint8_t> data, bool verify_crc) {
  RecordBatchIterator it(data,
                         BatchValidation{.max_batch_size = 1 << 20, .verify_crc = verify_crc});
  while (it.Next()) {
    const RecordBatchView& batch = it.batch();
    RecordReader reader(batch, RecordValidation{.max_decompressed_size = kMaxDecompressed});
    while (reader.Next()) {
      const Record& r = reader.record();
      if (batch.header().is_control()) (void)ParseEndTxnMarker(r);
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::span<const uint8_t> in(data, size);
  ReadBatches(in, /*verify_crc=*/true);
  ReadBatches(in, /*verify_crc=*/false);

  // Repair the first batch's CRC so that mutations of its body get past the checksum.
  if (size >= kRecordBatchHeaderSize) {
    std::vector<uint8_t> copy(in.begin(), in.end());
    (void)UpdateCrc(copy);
    ReadBatches(copy, /*verify_crc=*/true);
  }

  LegacyMessageSetIterator legacy(in, LegacyValidation{.max_decompressed_size = kMaxDecompressed});
  while (legacy.Next()) {
  }

  // The codecs on their own, selected by the first byte.
  if (size > 0) {
    std::vector<uint8_t> out;
    (void)Decompress(static_cast<Compression>(data[0] % 5), in.subspan(1), kMaxDecompressed, &out);
  }
  return 0;
}
