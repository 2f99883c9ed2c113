#pragma once
// A compressed record stream read a piece at a time, so that a reader holds only the
// codec's working memory and what it asked for, however large the stream inflates (a
// decompression bomb costs time, not memory). The formats are compression.h's.
//
// Working memory: gzip its 32 KiB window; zstd a window of at most 8 MiB (a frame asking
// more is refused, as in Decompress); lz4 one block (at most 4 MiB); snappy one block,
// refused past `max_block` bytes (a bare raw block is the whole stream).
//
// Not thread-safe; the input must outlive the Inflater.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>

#include "absl/status/statusor.h"
#include "fjord/protocol/compression.h"

namespace fjord::protocol {

class Inflater {
 public:
  // A reader of the decompressed bytes of `in`; kNone passes `in` through. Fails for an
  // unknown codec (InvalidArgument) or a library error (Internal).
  static absl::StatusOr<std::unique_ptr<Inflater>> Open(Compression codec,
                                                        std::span<const uint8_t> in,
                                                        size_t max_block);
  virtual ~Inflater() = default;

  // Writes up to out.size() (> 0) decompressed bytes to `out` and returns how many; 0 only
  // at the end of the stream. DataLoss for corrupt, truncated or trailing input;
  // ResourceExhausted for a block or window over the bounds above.
  virtual absl::StatusOr<size_t> Read(std::span<uint8_t> out) = 0;
};

}  // namespace fjord::protocol
