#pragma once
// Small file helpers shared by the storage tests.

#include <gtest/gtest.h>

#include <span>
#include <string>

#include "fjord/storage/file_system.h"

namespace fjord::storage::testing {

// Replaces the file at `path` with `text` (atomically, as checkpoints are written).
inline void WriteText(const std::string& path, const std::string& text) {
  std::span<const uint8_t> bytes(reinterpret_cast<const uint8_t*>(text.data()), text.size());
  ASSERT_TRUE(PosixFileSystem().WriteFileAtomically(path, bytes).ok());
}

}  // namespace fjord::storage::testing
