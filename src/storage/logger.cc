#include "logger.h"

namespace fjord::storage {

spdlog::logger& Logger() {
  static spdlog::logger& logger = NamedLogger("storage");
  return logger;
}

}  // namespace fjord::storage
