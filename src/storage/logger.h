#pragma once
// The storage module's named logger ("storage"), created on first use.

#include <spdlog/spdlog.h>

#include <memory>

#include "absl/strings/string_view.h"

// Debian's Abseil has its own string_view (Status::message() returns one): let fmt print it.
template <>
struct fmt::formatter<absl::string_view> : fmt::formatter<fmt::string_view> {
  template <typename Context>
  auto format(absl::string_view s, Context& ctx) const {
    return fmt::formatter<fmt::string_view>::format(fmt::string_view(s.data(), s.size()), ctx);
  }
};

namespace fjord::storage {

spdlog::logger& Logger();

}  // namespace fjord::storage
