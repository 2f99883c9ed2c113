#include "logger.h"

#include <spdlog/sinks/stdout_color_sinks.h>

namespace fjord::storage {

spdlog::logger& Logger() {
  static std::shared_ptr<spdlog::logger> logger = [] {
    std::shared_ptr<spdlog::logger> l = spdlog::get("storage");
    if (!l) l = spdlog::stderr_color_mt("storage");
    return l;
  }();
  return *logger;
}

}  // namespace fjord::storage
