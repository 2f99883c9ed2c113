#pragma once
// The net module's named logger ("net").

#include "fjord/base/logging.h"

namespace fjord::net {

inline spdlog::logger& Logger() {
  static spdlog::logger& logger = NamedLogger("net");
  return logger;
}

}  // namespace fjord::net
