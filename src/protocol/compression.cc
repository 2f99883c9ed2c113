#include "fjord/protocol/compression.h"

#include <lz4frame.h>
#include <snappy.h>
#include <zlib.h>
#include <zstd.h>
#include <zstd_errors.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cstring>
#include <limits>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "fjord/base/endian.h"

namespace fjord::protocol {
namespace {

constexpr size_t kMinChunk = 4096;

absl::Status Exhausted(absl::string_view codec, size_t max_output) {
  return absl::ResourceExhaustedError(
      absl::StrCat(codec, " data decompresses to more than the limit of ", max_output, " bytes"));
}

// The output of a bounded decompression: a vector grown geometrically but never beyond
// max_output + 1 bytes (the extra byte tells "exactly the limit" from "over the limit").
// reserve() allocates exactly what it is asked for, so capacity stays within that bound.
class BoundedOutput {
 public:
  BoundedOutput(std::vector<uint8_t>* out, size_t max_output, size_t size_hint)
      : out_(out),
        max_(max_output),
        limit_(max_output == std::numeric_limits<size_t>::max() ? max_output : max_output + 1) {
    out_->clear();
    size_t first = std::min(limit_, std::max(size_hint, kMinChunk));
    out_->reserve(first);
    out_->resize(first);
  }

  uint8_t* cursor() { return out_->data() + used_; }
  size_t room() const { return out_->size() - used_; }
  size_t used() const { return used_; }
  void Advance(size_t n) { used_ += n; }
  bool over_limit() const { return used_ > max_; }

  // Makes room() > 0 unless the buffer already holds limit_ bytes (then returns false).
  bool EnsureRoom() {
    if (room() > 0) return true;
    if (out_->size() >= limit_) return false;
    GrowTo(std::min(limit_, std::max(out_->size() * 2, kMinChunk)));
    return true;
  }

  // Makes room for exactly n more bytes; false when that would pass max_output.
  bool Reserve(size_t n) {
    if (n > max_ - std::min(max_, used_)) return false;
    if (room() >= n) return true;
    GrowTo(std::min(limit_, std::max(used_ + n, out_->size() * 2)));
    return true;
  }

  void Finish() { out_->resize(used_); }

 private:
  // Moves the bytes used so far into a buffer of exactly `next` bytes (reserve first, so
  // the vector never over-allocates past the limit).
  void GrowTo(size_t next) {
    std::vector<uint8_t> bigger;
    bigger.reserve(next);
    bigger.assign(out_->begin(), out_->begin() + static_cast<std::ptrdiff_t>(used_));
    bigger.resize(next);
    out_->swap(bigger);
  }

  std::vector<uint8_t>* out_;
  size_t used_ = 0;
  size_t max_;
  size_t limit_;
};

// ---- gzip ------------------------------------------------------------------------------

absl::StatusOr<std::vector<uint8_t>> GzipCompress(std::span<const uint8_t> in) {
  z_stream zs{};
  // 16 + 15: a gzip wrapper around a 32 KiB-window deflate stream.
  if (deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) !=
      Z_OK) {
    return absl::InternalError("deflateInit2 failed");
  }
  std::vector<uint8_t> out(deflateBound(&zs, static_cast<uLong>(in.size())));
  zs.next_in = const_cast<Bytef*>(in.data());
  zs.avail_in = static_cast<uInt>(in.size());
  zs.next_out = out.data();
  zs.avail_out = static_cast<uInt>(out.size());
  int rc = deflate(&zs, Z_FINISH);
  size_t n = zs.total_out;
  deflateEnd(&zs);
  if (rc != Z_STREAM_END) return absl::InternalError(absl::StrCat("deflate failed: ", rc));
  out.resize(n);
  return out;
}

absl::Status GzipDecompress(std::span<const uint8_t> in, size_t max_output,
                            std::vector<uint8_t>* out) {
  z_stream zs{};
  if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK) return absl::InternalError("inflateInit2 failed");
  std::unique_ptr<z_stream, int (*)(z_stream*)> guard(&zs, inflateEnd);
  BoundedOutput buf(out, max_output, in.size() * 4);
  zs.next_in = const_cast<Bytef*>(in.data());
  zs.avail_in = static_cast<uInt>(in.size());
  while (true) {
    if (!buf.EnsureRoom()) return Exhausted("gzip", max_output);
    size_t room = buf.room();
    zs.next_out = buf.cursor();
    zs.avail_out = static_cast<uInt>(std::min<size_t>(room, std::numeric_limits<uInt>::max()));
    uInt given = zs.avail_out;
    int rc = inflate(&zs, Z_NO_FLUSH);
    buf.Advance(given - zs.avail_out);
    if (buf.over_limit()) return Exhausted("gzip", max_output);
    if (rc == Z_STREAM_END) {
      if (zs.avail_in == 0) break;
      // java.util.zip.GZIPInputStream reads concatenated members; so do we.
      if (zs.avail_in < 2 || zs.next_in[0] != 0x1f || zs.next_in[1] != 0x8b) {
        return absl::DataLossError("gzip: garbage after the end of the stream");
      }
      if (inflateReset(&zs) != Z_OK) return absl::InternalError("inflateReset failed");
      continue;
    }
    if (rc == Z_OK) continue;
    if (rc == Z_BUF_ERROR && zs.avail_out == 0) continue;  // needs more room
    if (rc == Z_BUF_ERROR) return absl::DataLossError("gzip: truncated stream");
    return absl::DataLossError(
        absl::StrCat("gzip: corrupt stream: ", zs.msg != nullptr ? zs.msg : "error ", rc));
  }
  buf.Finish();
  return absl::OkStatus();
}

// ---- snappy (xerial framing) -----------------------------------------------------------

constexpr std::array<uint8_t, 8> kXerialMagic = {0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0};
constexpr size_t kXerialHeaderSize = 16;    // magic + int32 version + int32 compatible
constexpr size_t kXerialBlockSize = 32768;  // snappy-java's default block size

std::vector<uint8_t> SnappyCompress(std::span<const uint8_t> in) {
  std::vector<uint8_t> out(kXerialHeaderSize);
  std::memcpy(out.data(), kXerialMagic.data(), kXerialMagic.size());
  be::Store32(out.data() + 8, 1);
  be::Store32(out.data() + 12, 1);
  for (size_t pos = 0; pos < in.size(); pos += kXerialBlockSize) {
    size_t n = std::min(kXerialBlockSize, in.size() - pos);
    size_t at = out.size();
    out.resize(at + 4 + snappy::MaxCompressedLength(n));
    size_t written = 0;
    snappy::RawCompress(reinterpret_cast<const char*>(in.data() + pos), n,
                        reinterpret_cast<char*>(out.data() + at + 4), &written);
    be::Store32(out.data() + at, static_cast<uint32_t>(written));
    out.resize(at + 4 + written);
  }
  return out;
}

// Appends one raw snappy block to buf, checking its claimed length before allocating.
absl::Status SnappyBlock(std::span<const uint8_t> block, size_t max_output, BoundedOutput* buf) {
  const char* src = reinterpret_cast<const char*>(block.data());
  size_t n = 0;
  if (!snappy::GetUncompressedLength(src, block.size(), &n)) {
    return absl::DataLossError("snappy: corrupt block length");
  }
  if (!buf->Reserve(n)) return Exhausted("snappy", max_output);
  if (!snappy::RawUncompress(src, block.size(), reinterpret_cast<char*>(buf->cursor()))) {
    return absl::DataLossError("snappy: corrupt block");
  }
  buf->Advance(n);
  return absl::OkStatus();
}

absl::Status SnappyDecompress(std::span<const uint8_t> in, size_t max_output,
                              std::vector<uint8_t>* out) {
  bool xerial = in.size() >= kXerialMagic.size() &&
                std::memcmp(in.data(), kXerialMagic.data(), kXerialMagic.size()) == 0;
  if (!xerial) {
    // A bare raw block: its varint length prefix is the exact output size.
    size_t n = 0;
    if (!snappy::GetUncompressedLength(reinterpret_cast<const char*>(in.data()), in.size(), &n)) {
      return absl::DataLossError("snappy: corrupt block length");
    }
    if (n > max_output) return Exhausted("snappy", max_output);
    BoundedOutput buf(out, max_output, n);
    absl::Status s = SnappyBlock(in, max_output, &buf);
    if (!s.ok()) return s;
    buf.Finish();
    return absl::OkStatus();
  }
  if (in.size() < kXerialHeaderSize) return absl::DataLossError("snappy: truncated xerial header");
  BoundedOutput buf(out, max_output, 0);
  size_t pos = kXerialHeaderSize;
  while (pos < in.size()) {
    if (in.size() - pos < 4) return absl::DataLossError("snappy: truncated xerial block length");
    int32_t len = static_cast<int32_t>(be::Load32(in.data() + pos));
    pos += 4;
    if (len < 0 || static_cast<size_t>(len) > in.size() - pos) {
      return absl::DataLossError(absl::StrCat("snappy: xerial block length ", len, " at byte ",
                                              pos - 4, " does not fit in the ", in.size() - pos,
                                              " bytes left"));
    }
    absl::Status s = SnappyBlock(in.subspan(pos, static_cast<size_t>(len)), max_output, &buf);
    if (!s.ok()) return s;
    pos += static_cast<size_t>(len);
  }
  buf.Finish();
  return absl::OkStatus();
}

// ---- lz4 -------------------------------------------------------------------------------

absl::StatusOr<std::vector<uint8_t>> Lz4Compress(std::span<const uint8_t> in) {
  LZ4F_preferences_t prefs;
  std::memset(&prefs, 0, sizeof(prefs));
  prefs.frameInfo.blockSizeID = LZ4F_max64KB;  // what Kafka's Java client writes
  prefs.frameInfo.blockMode = LZ4F_blockIndependent;
  prefs.frameInfo.contentChecksumFlag = LZ4F_noContentChecksum;
  prefs.frameInfo.contentSize = 0;  // older Kafka readers reject a content size
  std::vector<uint8_t> out(LZ4F_compressFrameBound(in.size(), &prefs));
  size_t n = LZ4F_compressFrame(out.data(), out.size(), in.data(), in.size(), &prefs);
  if (LZ4F_isError(n)) return absl::InternalError(LZ4F_getErrorName(n));
  out.resize(n);
  return out;
}

// XXH32 with seed 0 of fewer than 16 bytes: all an LZ4 frame descriptor can be.
uint32_t Xxh32Short(const uint8_t* p, size_t n) {
  constexpr uint32_t kP1 = 2654435761u, kP2 = 2246822519u, kP3 = 3266489917u, kP4 = 668265263u,
                     kP5 = 374761393u;
  uint32_t h = kP5 + static_cast<uint32_t>(n);
  size_t i = 0;
  for (; i + 4 <= n; i += 4) {
    uint32_t w;
    std::memcpy(&w, p + i, 4);  // little-endian host (x86-64, aarch64)
    h = std::rotl(h + w * kP3, 17) * kP4;
  }
  for (; i < n; ++i) h = std::rotl(h + p[i] * kP5, 11) * kP1;
  h ^= h >> 15;
  h *= kP2;
  h ^= h >> 13;
  h *= kP3;
  h ^= h >> 16;
  return h;
}

absl::Status Lz4Decompress(std::span<const uint8_t> in, size_t max_output, bool ignore_header_hc,
                           std::vector<uint8_t>* out) {
  constexpr uint32_t kLz4Magic = 0x184D2204;
  if (in.size() < 7) return absl::DataLossError("lz4: truncated frame header");
  uint32_t magic;
  std::memcpy(&magic, in.data(), 4);
  if (magic != kLz4Magic) return absl::DataLossError("lz4: not an lz4 frame");
  // The decoder's working memory follows the declared block size (at most 4 MiB blocks):
  // bounded by a constant, whatever the input says.
  LZ4F_dctx* raw_ctx = nullptr;
  if (LZ4F_isError(LZ4F_createDecompressionContext(&raw_ctx, LZ4F_VERSION))) {
    return absl::InternalError("LZ4F_createDecompressionContext failed");
  }
  std::unique_ptr<LZ4F_dctx, LZ4F_errorCode_t (*)(LZ4F_dctx*)> ctx(raw_ctx,
                                                                   LZ4F_freeDecompressionContext);
  // Two pieces of input: a (possibly patched) copy of the header, then the rest.
  std::array<uint8_t, 19> header{};
  std::span<const uint8_t> pieces[2] = {{}, in};
  if (ignore_header_hc) {
    size_t hs = LZ4F_headerSize(in.data(), in.size());
    if (LZ4F_isError(hs) || hs > header.size() || hs < 7 || hs > in.size()) {
      return absl::DataLossError("lz4: bad or truncated frame header");
    }
    std::memcpy(header.data(), in.data(), hs);
    header[hs - 1] = static_cast<uint8_t>(Xxh32Short(header.data() + 4, hs - 5) >> 8);
    pieces[0] = std::span<const uint8_t>(header.data(), hs);
    pieces[1] = in.subspan(hs);
  }
  BoundedOutput buf(out, max_output, in.size() * 4);
  int piece = pieces[0].empty() ? 1 : 0;
  while (true) {
    if (!buf.EnsureRoom()) return Exhausted("lz4", max_output);
    size_t room = buf.room();
    size_t dst_size = room;
    size_t src_size = pieces[piece].size();
    size_t r = LZ4F_decompress(ctx.get(), buf.cursor(), &dst_size, pieces[piece].data(), &src_size,
                               nullptr);
    if (LZ4F_isError(r)) return absl::DataLossError(absl::StrCat("lz4: ", LZ4F_getErrorName(r)));
    buf.Advance(dst_size);
    if (buf.over_limit()) return Exhausted("lz4", max_output);
    pieces[piece] = pieces[piece].subspan(src_size);
    if (pieces[piece].empty() && piece == 0) piece = 1;
    if (r == 0) {
      if (!pieces[piece].empty()) return absl::DataLossError("lz4: garbage after the frame");
      break;
    }
    if (pieces[piece].empty() && dst_size < room)
      return absl::DataLossError("lz4: truncated frame");
  }
  buf.Finish();
  return absl::OkStatus();
}

// ---- zstd ------------------------------------------------------------------------------

absl::StatusOr<std::vector<uint8_t>> ZstdCompress(std::span<const uint8_t> in) {
  std::vector<uint8_t> out(ZSTD_compressBound(in.size()));
  size_t n = ZSTD_compress(out.data(), out.size(), in.data(), in.size(), 3);
  if (ZSTD_isError(n)) return absl::InternalError(ZSTD_getErrorName(n));
  out.resize(n);
  return out;
}

absl::Status ZstdDecompress(std::span<const uint8_t> in, size_t max_output,
                            std::vector<uint8_t>* out) {
  unsigned long long declared = ZSTD_getFrameContentSize(in.data(), in.size());
  if (declared == ZSTD_CONTENTSIZE_ERROR) return absl::DataLossError("zstd: not a zstd frame");
  size_t hint = in.size() * 4;
  if (declared != ZSTD_CONTENTSIZE_UNKNOWN) {
    if (declared > max_output) return Exhausted("zstd", max_output);
    hint = static_cast<size_t>(declared);
  }
  std::unique_ptr<ZSTD_DCtx, size_t (*)(ZSTD_DCtx*)> ctx(ZSTD_createDCtx(), ZSTD_freeDCtx);
  if (!ctx) return absl::InternalError("ZSTD_createDCtx failed");
  // The window is the decoder's working memory. 2^23 (8 MiB) admits every level up to 19
  // (the Java client's default is 3, a 2 MiB window); a frame asking more is refused.
  ZSTD_DCtx_setParameter(ctx.get(), ZSTD_d_windowLogMax, 23);
  BoundedOutput buf(out, max_output, hint);
  ZSTD_inBuffer src{in.data(), in.size(), 0};
  while (true) {
    if (!buf.EnsureRoom()) return Exhausted("zstd", max_output);
    ZSTD_outBuffer dst{buf.cursor(), buf.room(), 0};
    size_t r = ZSTD_decompressStream(ctx.get(), &dst, &src);
    if (ZSTD_isError(r)) {
      if (ZSTD_getErrorCode(r) == ZSTD_error_frameParameter_windowTooLarge) {
        return absl::ResourceExhaustedError("zstd: frame window larger than 8 MiB");
      }
      return absl::DataLossError(absl::StrCat("zstd: ", ZSTD_getErrorName(r)));
    }
    buf.Advance(dst.pos);
    if (buf.over_limit()) return Exhausted("zstd", max_output);
    if (r == 0 && src.pos == src.size) break;  // last frame complete and flushed
    if (src.pos == src.size && dst.pos < dst.size) return absl::DataLossError("zstd: truncated");
  }
  buf.Finish();
  return absl::OkStatus();
}

}  // namespace

std::string_view CompressionName(Compression c) {
  switch (c) {
    case Compression::kNone:
      return "none";
    case Compression::kGzip:
      return "gzip";
    case Compression::kSnappy:
      return "snappy";
    case Compression::kLz4:
      return "lz4";
    case Compression::kZstd:
      return "zstd";
  }
  return "unknown";
}

absl::StatusOr<std::vector<uint8_t>> Compress(Compression codec, std::span<const uint8_t> in) {
  switch (codec) {
    case Compression::kNone:
      return std::vector<uint8_t>(in.begin(), in.end());
    case Compression::kGzip:
      return GzipCompress(in);
    case Compression::kSnappy:
      return SnappyCompress(in);
    case Compression::kLz4:
      return Lz4Compress(in);
    case Compression::kZstd:
      return ZstdCompress(in);
  }
  return absl::InvalidArgumentError(
      absl::StrCat("unknown compression codec ", static_cast<int>(codec)));
}

absl::Status Decompress(Compression codec, std::span<const uint8_t> in, size_t max_output,
                        std::vector<uint8_t>* out) {
  switch (codec) {
    case Compression::kNone:
      if (in.size() > max_output) return Exhausted("uncompressed", max_output);
      out->assign(in.begin(), in.end());
      return absl::OkStatus();
    case Compression::kGzip:
      return GzipDecompress(in, max_output, out);
    case Compression::kSnappy:
      return SnappyDecompress(in, max_output, out);
    case Compression::kLz4:
      return Lz4Decompress(in, max_output, /*ignore_header_hc=*/false, out);
    case Compression::kZstd:
      return ZstdDecompress(in, max_output, out);
  }
  return absl::InvalidArgumentError(
      absl::StrCat("unknown compression codec ", static_cast<int>(codec)));
}

absl::Status DecompressLz4IgnoringHeaderChecksum(std::span<const uint8_t> in, size_t max_output,
                                                 std::vector<uint8_t>* out) {
  return Lz4Decompress(in, max_output, /*ignore_header_hc=*/true, out);
}

}  // namespace fjord::protocol
