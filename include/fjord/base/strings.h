#pragma once
// Debian's Abseil has its own absl::string_view, distinct from std::string_view. Fjord's
// interfaces use std::string_view; these convert at the edges where Abseil wants its own.

#include <string>
#include <string_view>

#include "absl/strings/string_view.h"

namespace fjord {

inline absl::string_view Absl(std::string_view s) { return {s.data(), s.size()}; }
inline std::string_view Std(absl::string_view s) { return {s.data(), s.size()}; }

// For absl::StrJoin over std::string_view items.
struct StdViewFormatter {
  void operator()(std::string* out, std::string_view s) const { out->append(s); }
};

}  // namespace fjord
