#include "fjord/base/logging.h"

#include <spdlog/sinks/stdout_color_sinks.h>

#include <mutex>

namespace fjord {

spdlog::logger& NamedLogger(const char* name) {
  static std::mutex mu;
  std::lock_guard<std::mutex> lock(mu);
  std::shared_ptr<spdlog::logger> l = spdlog::get(name);
  if (!l) l = spdlog::stderr_color_mt(name);
  return *l;  // the registry keeps it alive
}

}  // namespace fjord
