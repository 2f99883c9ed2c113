#pragma once
// ByteBuffer: a std::vector of bytes whose resize leaves new bytes uninitialised. Request
// frames are filled by recv right after they are sized, so zero-filling them first would
// touch every byte twice (it cost a fifth of the broker's CPU on 1 MiB produce requests).

#include <cstdint>
#include <memory>
#include <vector>

namespace fjord {

template <typename T>
struct DefaultInitAllocator : std::allocator<T> {
  template <typename U>
  struct rebind {
    using other = DefaultInitAllocator<U>;
  };
  DefaultInitAllocator() = default;
  template <typename U>
  DefaultInitAllocator(const DefaultInitAllocator<U>&) noexcept {}
  // Value-construction with no arguments default-initialises: for bytes, nothing.
  template <typename U>
  void construct(U* p) noexcept(noexcept(::new (static_cast<void*>(p)) U)) {
    ::new (static_cast<void*>(p)) U;
  }
  template <typename U, typename... Args>
  void construct(U* p, Args&&... args) {
    ::new (static_cast<void*>(p)) U(std::forward<Args>(args)...);
  }
};

using ByteBuffer = std::vector<uint8_t, DefaultInitAllocator<uint8_t>>;

}  // namespace fjord
