#pragma once
// Named spdlog loggers, one per module ("storage", "net", "server", ...), all writing to
// stderr. The app sets the level and pattern once for every logger (spdlog's registry
// applies them to loggers created later too).

#include <spdlog/spdlog.h>

#include "absl/strings/string_view.h"

// Debian's Abseil has its own string_view (Status::message() returns one): let fmt print it.
template <>
struct fmt::formatter<absl::string_view> : fmt::formatter<fmt::string_view> {
  template <typename Context>
  auto format(absl::string_view s, Context& ctx) const {
    return fmt::formatter<fmt::string_view>::format(fmt::string_view(s.data(), s.size()), ctx);
  }
};

namespace fjord {

// The logger called `name`, created on first use. Thread-safe.
spdlog::logger& NamedLogger(const char* name);

}  // namespace fjord
