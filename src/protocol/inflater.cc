#include "fjord/protocol/inflater.h"

#include <lz4frame.h>
#include <snappy.h>
#include <zlib.h>
#include <zstd.h>
#include <zstd_errors.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <limits>
#include <vector>

#include "absl/strings/str_cat.h"
#include "fjord/base/endian.h"

namespace fjord::protocol {
namespace {

class PlainInflater final : public Inflater {
 public:
  explicit PlainInflater(std::span<const uint8_t> in) : in_(in) {}
  absl::StatusOr<size_t> Read(std::span<uint8_t> out) override {
    const size_t n = std::min(out.size(), in_.size());
    std::memcpy(out.data(), in_.data(), n);
    in_ = in_.subspan(n);
    return n;
  }

 private:
  std::span<const uint8_t> in_;
};

class GzipInflater final : public Inflater {
 public:
  explicit GzipInflater(std::span<const uint8_t> in) {
    ok_ = inflateInit2(&zs_, 16 + MAX_WBITS) == Z_OK;
    zs_.next_in = const_cast<Bytef*>(in.data());
    zs_.avail_in = static_cast<uInt>(in.size());
  }
  ~GzipInflater() override {
    if (ok_) inflateEnd(&zs_);
  }
  bool ok() const { return ok_; }

  absl::StatusOr<size_t> Read(std::span<uint8_t> out) override {
    while (!ended_) {
      zs_.next_out = out.data();
      zs_.avail_out =
          static_cast<uInt>(std::min<size_t>(out.size(), std::numeric_limits<uInt>::max()));
      const uInt given = zs_.avail_out;
      const int rc = inflate(&zs_, Z_NO_FLUSH);
      const size_t produced = given - zs_.avail_out;
      if (rc == Z_STREAM_END) {
        if (zs_.avail_in == 0) {
          ended_ = true;
        } else if (zs_.avail_in < 2 || zs_.next_in[0] != 0x1f || zs_.next_in[1] != 0x8b) {
          return absl::DataLossError("gzip: garbage after the end of the stream");
        } else if (inflateReset(&zs_) != Z_OK) {
          // java.util.zip.GZIPInputStream reads concatenated members; so do we.
          return absl::InternalError("inflateReset failed");
        }
      } else if (rc == Z_BUF_ERROR && produced == 0) {
        return absl::DataLossError("gzip: truncated stream");
      } else if (rc != Z_OK && rc != Z_BUF_ERROR) {
        return absl::DataLossError(
            absl::StrCat("gzip: corrupt stream: ", zs_.msg != nullptr ? zs_.msg : "error ", rc));
      }
      if (produced > 0) return produced;
    }
    return 0;
  }

 private:
  z_stream zs_{};
  bool ok_ = false;
  bool ended_ = false;
};

class ZstdInflater final : public Inflater {
 public:
  explicit ZstdInflater(std::span<const uint8_t> in)
      : ctx_(ZSTD_createDCtx(), ZSTD_freeDCtx), src_{in.data(), in.size(), 0} {
    // As Decompress: a window of at most 2^23 (8 MiB), every level up to 19.
    if (ctx_) ZSTD_DCtx_setParameter(ctx_.get(), ZSTD_d_windowLogMax, 23);
  }
  bool ok() const { return ctx_ != nullptr; }

  absl::StatusOr<size_t> Read(std::span<uint8_t> out) override {
    while (!ended_) {
      ZSTD_outBuffer dst{out.data(), out.size(), 0};
      const size_t r = ZSTD_decompressStream(ctx_.get(), &dst, &src_);
      if (ZSTD_isError(r)) {
        if (ZSTD_getErrorCode(r) == ZSTD_error_frameParameter_windowTooLarge) {
          return absl::ResourceExhaustedError("zstd: frame window larger than 8 MiB");
        }
        return absl::DataLossError(absl::StrCat("zstd: ", ZSTD_getErrorName(r)));
      }
      if (r == 0 && src_.pos == src_.size) ended_ = true;  // last frame complete, flushed
      if (dst.pos > 0) return dst.pos;
      if (!ended_ && src_.pos == src_.size) return absl::DataLossError("zstd: truncated");
    }
    return 0;
  }

 private:
  std::unique_ptr<ZSTD_DCtx, size_t (*)(ZSTD_DCtx*)> ctx_;
  ZSTD_inBuffer src_;
  bool ended_ = false;
};

class Lz4Inflater final : public Inflater {
 public:
  explicit Lz4Inflater(std::span<const uint8_t> in)
      : ctx_(nullptr, LZ4F_freeDecompressionContext), in_(in) {
    LZ4F_dctx* raw = nullptr;
    if (!LZ4F_isError(LZ4F_createDecompressionContext(&raw, LZ4F_VERSION))) ctx_.reset(raw);
  }
  bool ok() const { return ctx_ != nullptr; }

  absl::StatusOr<size_t> Read(std::span<uint8_t> out) override {
    constexpr uint32_t kLz4Magic = 0x184D2204;
    if (!checked_) {
      uint32_t magic = 0;
      if (in_.size() < 7) return absl::DataLossError("lz4: truncated frame header");
      std::memcpy(&magic, in_.data(), 4);
      if (magic != kLz4Magic) return absl::DataLossError("lz4: not an lz4 frame");
      checked_ = true;
    }
    while (!ended_) {
      size_t dst_size = out.size();
      size_t src_size = in_.size();
      const size_t r =
          LZ4F_decompress(ctx_.get(), out.data(), &dst_size, in_.data(), &src_size, nullptr);
      if (LZ4F_isError(r)) return absl::DataLossError(absl::StrCat("lz4: ", LZ4F_getErrorName(r)));
      in_ = in_.subspan(src_size);
      if (r == 0) {
        if (!in_.empty()) return absl::DataLossError("lz4: garbage after the frame");
        ended_ = true;
      }
      if (dst_size > 0) return dst_size;
      if (!ended_ && in_.empty()) return absl::DataLossError("lz4: truncated frame");
    }
    return 0;
  }

 private:
  std::unique_ptr<LZ4F_dctx, LZ4F_errorCode_t (*)(LZ4F_dctx*)> ctx_;
  std::span<const uint8_t> in_;
  bool checked_ = false;
  bool ended_ = false;
};

constexpr std::array<uint8_t, 8> kXerialMagic = {0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0};
constexpr size_t kXerialHeaderSize = 16;

// snappy-java's xerial framing (int32-length-prefixed raw blocks), or one bare raw block.
class SnappyInflater final : public Inflater {
 public:
  SnappyInflater(std::span<const uint8_t> in, size_t max_block) : in_(in), max_block_(max_block) {
    xerial_ = in.size() >= kXerialMagic.size() &&
              std::memcmp(in.data(), kXerialMagic.data(), kXerialMagic.size()) == 0;
  }

  absl::StatusOr<size_t> Read(std::span<uint8_t> out) override {
    while (at_ == block_.size()) {
      absl::StatusOr<bool> more = NextBlock();
      if (!more.ok()) return more.status();
      if (!*more) return 0;
    }
    const size_t n = std::min(out.size(), block_.size() - at_);
    std::memcpy(out.data(), block_.data() + at_, n);
    at_ += n;
    return n;
  }

 private:
  // Decodes the next raw block into block_; false at the end of the stream.
  absl::StatusOr<bool> NextBlock() {
    std::span<const uint8_t> raw;
    if (!xerial_) {
      if (started_) return false;
      raw = in_;
    } else {
      if (!started_) {
        if (in_.size() < kXerialHeaderSize) {
          return absl::DataLossError("snappy: truncated xerial header");
        }
        pos_ = kXerialHeaderSize;
      }
      if (pos_ == in_.size()) return false;
      if (in_.size() - pos_ < 4)
        return absl::DataLossError("snappy: truncated xerial block length");
      const auto len = static_cast<int32_t>(be::Load32(in_.data() + pos_));
      pos_ += 4;
      if (len < 0 || static_cast<size_t>(len) > in_.size() - pos_) {
        return absl::DataLossError(absl::StrCat("snappy: xerial block length ", len,
                                                " does not fit in the ", in_.size() - pos_,
                                                " bytes left"));
      }
      raw = in_.subspan(pos_, static_cast<size_t>(len));
      pos_ += static_cast<size_t>(len);
    }
    started_ = true;
    const char* src = reinterpret_cast<const char*>(raw.data());
    size_t n = 0;
    if (!snappy::GetUncompressedLength(src, raw.size(), &n)) {
      return absl::DataLossError("snappy: corrupt block length");
    }
    if (n > max_block_) {
      return absl::ResourceExhaustedError(absl::StrCat(
          "snappy: a block decompresses to ", n, " bytes, more than the limit of ", max_block_));
    }
    block_.resize(n);
    if (!snappy::RawUncompress(src, raw.size(), reinterpret_cast<char*>(block_.data()))) {
      return absl::DataLossError("snappy: corrupt block");
    }
    at_ = 0;
    return true;
  }

  std::span<const uint8_t> in_;
  size_t max_block_;
  bool xerial_ = false;
  bool started_ = false;
  size_t pos_ = 0;
  std::vector<uint8_t> block_;
  size_t at_ = 0;
};

}  // namespace

absl::StatusOr<std::unique_ptr<Inflater>> Inflater::Open(Compression codec,
                                                         std::span<const uint8_t> in,
                                                         size_t max_block) {
  switch (codec) {
    case Compression::kNone:
      return std::make_unique<PlainInflater>(in);
    case Compression::kGzip: {
      auto g = std::make_unique<GzipInflater>(in);
      if (!g->ok()) return absl::InternalError("inflateInit2 failed");
      return g;
    }
    case Compression::kSnappy:
      return std::make_unique<SnappyInflater>(in, max_block);
    case Compression::kLz4: {
      auto l = std::make_unique<Lz4Inflater>(in);
      if (!l->ok()) return absl::InternalError("LZ4F_createDecompressionContext failed");
      return l;
    }
    case Compression::kZstd: {
      auto z = std::make_unique<ZstdInflater>(in);
      if (!z->ok()) return absl::InternalError("ZSTD_createDCtx failed");
      return z;
    }
  }
  return absl::InvalidArgumentError(
      absl::StrCat("unknown compression codec ", static_cast<int>(codec)));
}

}  // namespace fjord::protocol
