#pragma once
// The transaction coordinator's named logger ("txn-coordinator"). Private to coordinator/txn/.

#include "fjord/base/logging.h"

namespace fjord::coordinator::txn_internal {

inline spdlog::logger& Logger() {
  static spdlog::logger& logger = NamedLogger("txn-coordinator");
  return logger;
}

}  // namespace fjord::coordinator::txn_internal
