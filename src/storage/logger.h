#pragma once
// The storage module's named logger ("storage").

#include "fjord/base/logging.h"

namespace fjord::storage {

spdlog::logger& Logger();

}  // namespace fjord::storage
