#pragma once
// Support for the generated round-trip tests: a seeded random source for field values,
// and the check each generated test runs for every version of its message:
//   random value -> Encode -> size == EncodedSize -> Decode -> equal -> Encode -> same bytes,
// plus: every proper prefix of the encoding fails to decode (or decodes to less).

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "fjord/protocol/wire.h"

namespace fjord::protocol::testing {

class Rng {
 public:
  explicit Rng(uint64_t seed) : gen_(seed) {}

  template <typename T>
  T Int() {
    // Mostly small values, sometimes the extremes: both shapes hit different encodings.
    switch (gen_() % 4) {
      case 0:
        return std::numeric_limits<T>::min();
      case 1:
        return std::numeric_limits<T>::max();
      default:
        return static_cast<T>(static_cast<int64_t>(gen_() % 2001) - 1000);
    }
  }
  bool Bool() { return gen_() % 2 == 0; }
  bool OneIn(int n) { return gen_() % static_cast<uint64_t>(n) == 0; }
  double Double() { return static_cast<double>(gen_() % 100000) / 7.0; }
  Uuid RandomUuid() {
    Uuid u;
    for (auto& b : u.bytes) b = static_cast<uint8_t>(gen_());
    return u;
  }
  std::string String() {
    std::string s(gen_() % 12, 'a');
    for (auto& c : s) c = static_cast<char>('a' + gen_() % 26);
    return s;
  }
  std::vector<uint8_t> Bytes() {
    std::vector<uint8_t> b(gen_() % 20);
    for (auto& c : b) c = static_cast<uint8_t>(gen_());
    return b;
  }
  RecordsView Records() {
    static const std::vector<uint8_t> pool = [] {
      std::vector<uint8_t> p(256);
      for (size_t i = 0; i < p.size(); ++i) p[i] = static_cast<uint8_t>(i * 37 + 11);
      return p;
    }();
    size_t off = gen_() % 128;
    size_t len = gen_() % 128;
    return RecordsView::Of(std::span<const uint8_t>(pool.data() + off, len));
  }
  // Element count of an array at nesting depth `depth` (kept small so messages stay small).
  size_t Count(int depth) { return depth > 3 ? 0 : gen_() % 4; }
  UnknownTaggedFields UnknownTags() {
    UnknownTaggedFields tags;
    uint32_t tag = 1000;
    for (size_t i = 0, n = 1 + gen_() % 2; i < n; ++i) {
      tag += 1 + static_cast<uint32_t>(gen_() % 50);
      tags.push_back(RawTaggedField{tag, Bytes()});
    }
    return tags;
  }

 private:
  std::mt19937_64 gen_;
};

// FillRandom(Message&, version, Rng&, depth) overloads are generated beside each test and
// found by argument-dependent lookup through Rng.

template <typename Message>
void RoundTripAllVersions() {
  constexpr int kSamplesPerVersion = 12;
  for (int16_t v = Message::kMinVersion; v <= Message::kMaxVersion; ++v) {
    for (int sample = 0; sample < kSamplesPerVersion; ++sample) {
      SCOPED_TRACE(std::string(Message::kName) + " v" + std::to_string(v) + " sample " +
                   std::to_string(sample));
      Rng rng(static_cast<uint64_t>(v) * 1000003u + static_cast<uint64_t>(sample));
      Message original;
      FillRandom(original, v, rng, 0);

      std::vector<uint8_t> bytes = EncodeMessage(original, v);
      ASSERT_EQ(bytes.size(), original.EncodedSize(v));

      Message decoded;
      size_t consumed = 0;
      ASSERT_TRUE(DecodeMessage(bytes, v, &decoded, &consumed).ok())
          << DecodeMessage(bytes, v, &decoded).message();
      EXPECT_EQ(consumed, bytes.size());
      ASSERT_TRUE(decoded == original);
      EXPECT_EQ(EncodeMessage(decoded, v), bytes);

      // A truncated encoding never decodes to the same bytes, and never crashes.
      for (size_t cut = 0; cut < bytes.size(); cut += 1 + bytes.size() / 16) {
        Message partial;
        std::span<const uint8_t> prefix(bytes.data(), cut);
        size_t used = 0;
        if (DecodeMessage(prefix, v, &partial, &used).ok()) {
          EXPECT_LE(used, cut);
        }
      }
    }
  }
}

}  // namespace fjord::protocol::testing
