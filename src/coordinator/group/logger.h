#pragma once
// The coordinator's named logger ("group-coordinator"). Private to coordinator/.

#include "fjord/base/logging.h"

namespace fjord::coordinator {

inline spdlog::logger& Logger() {
  static spdlog::logger& logger = NamedLogger("group-coordinator");
  return logger;
}

}  // namespace fjord::coordinator
