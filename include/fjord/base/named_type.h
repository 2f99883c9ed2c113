#pragma once
// NamedType: a value of type T that does not mix with other quantities of the same T.
// An Offset and a LeaderEpoch are both integers, but passing one where the other is
// expected is a compile error. Construction is explicit; `.value` gives the raw number.

#include <compare>
#include <cstddef>
#include <functional>

namespace fjord {

template <typename T, typename Tag>
struct NamedType {
  using ValueType = T;
  T value{};

  constexpr NamedType() = default;
  constexpr explicit NamedType(T v) : value(v) {}

  constexpr auto operator<=>(const NamedType&) const = default;
  constexpr bool operator==(const NamedType&) const = default;

  constexpr NamedType& operator+=(T d) {
    value += d;
    return *this;
  }
  constexpr NamedType operator+(T d) const { return NamedType(value + d); }
  constexpr NamedType operator-(T d) const { return NamedType(value - d); }
};

template <typename T, typename Tag>
constexpr T operator-(NamedType<T, Tag> a, NamedType<T, Tag> b) {
  return a.value - b.value;
}

}  // namespace fjord

template <typename T, typename Tag>
struct std::hash<fjord::NamedType<T, Tag>> {
  std::size_t operator()(const fjord::NamedType<T, Tag>& v) const noexcept {
    return std::hash<T>{}(v.value);
  }
};
