#pragma once
// fjordctl's output: aligned tables for people, JSON for scripts (--format json).

#include <cstdint>
#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace fjord::ctl {

enum class Format { kTable, kJson };

// A JSON value, built by the commands and printed with Dump().
class Json {
 public:
  using Array = std::vector<Json>;
  using Object = std::vector<std::pair<std::string, Json>>;  // keys in insertion order

  Json() : v_(nullptr) {}
  Json(std::nullptr_t) : v_(nullptr) {}
  Json(bool b) : v_(b) {}
  Json(int v) : v_(static_cast<int64_t>(v)) {}
  Json(int64_t v) : v_(v) {}
  Json(double v) : v_(v) {}
  Json(const char* s) : v_(std::string(s)) {}
  Json(std::string s) : v_(std::move(s)) {}
  static Json MakeArray() { return Json(Array{}); }
  static Json MakeObject() { return Json(Object{}); }

  // Objects: adds a member; arrays: appends.
  Json& Set(std::string key, Json value);
  Json& Push(Json value);

  std::string Dump() const;

 private:
  explicit Json(Array a) : v_(std::move(a)) {}
  explicit Json(Object o) : v_(std::move(o)) {}
  void DumpTo(std::string* out) const;

  std::variant<std::nullptr_t, bool, int64_t, double, std::string, Array, Object> v_;
};

// Columns padded to their widest cell; the header in capitals.
class Table {
 public:
  explicit Table(std::vector<std::string> headers) : headers_(std::move(headers)) {}
  void Row(std::vector<std::string> cells) { rows_.push_back(std::move(cells)); }
  bool empty() const { return rows_.empty(); }
  std::string Render() const;

 private:
  std::vector<std::string> headers_;
  std::vector<std::vector<std::string>> rows_;
};

// "1,2,3" for lists of ids.
std::string JoinInts(const std::vector<int32_t>& v);

}  // namespace fjord::ctl
