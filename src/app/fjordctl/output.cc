#include "output.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace fjord::ctl {

namespace {

void Quote(const std::string& s, std::string* out) {
  out->push_back('"');
  for (unsigned char c : s) {
    switch (c) {
      case '"':
        *out += "\\\"";
        break;
      case '\\':
        *out += "\\\\";
        break;
      case '\n':
        *out += "\\n";
        break;
      case '\r':
        *out += "\\r";
        break;
      case '\t':
        *out += "\\t";
        break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          *out += buf;
        } else {
          out->push_back(static_cast<char>(c));
        }
    }
  }
  out->push_back('"');
}

}  // namespace

Json& Json::Set(std::string key, Json value) {
  std::get<Object>(v_).emplace_back(std::move(key), std::move(value));
  return *this;
}

Json& Json::Push(Json value) {
  std::get<Array>(v_).push_back(std::move(value));
  return *this;
}

std::string Json::Dump() const {
  std::string out;
  DumpTo(&out);
  return out;
}

void Json::DumpTo(std::string* out) const {
  if (std::holds_alternative<std::nullptr_t>(v_)) {
    *out += "null";
  } else if (const bool* b = std::get_if<bool>(&v_)) {
    *out += *b ? "true" : "false";
  } else if (const int64_t* i = std::get_if<int64_t>(&v_)) {
    *out += std::to_string(*i);
  } else if (const double* d = std::get_if<double>(&v_)) {
    if (!std::isfinite(*d)) {
      *out += "null";  // JSON has no NaN or infinity
    } else {
      char buf[40];
      std::snprintf(buf, sizeof buf, "%.15g", *d);  // exact to the last printed digit
      *out += buf;
    }
  } else if (const std::string* s = std::get_if<std::string>(&v_)) {
    Quote(*s, out);
  } else if (const Array* a = std::get_if<Array>(&v_)) {
    out->push_back('[');
    for (size_t i = 0; i < a->size(); ++i) {
      if (i > 0) out->push_back(',');
      (*a)[i].DumpTo(out);
    }
    out->push_back(']');
  } else {
    const Object& o = std::get<Object>(v_);
    out->push_back('{');
    for (size_t i = 0; i < o.size(); ++i) {
      if (i > 0) out->push_back(',');
      Quote(o[i].first, out);
      out->push_back(':');
      o[i].second.DumpTo(out);
    }
    out->push_back('}');
  }
}

std::string Table::Render() const {
  std::vector<size_t> width(headers_.size());
  for (size_t i = 0; i < headers_.size(); ++i) width[i] = headers_[i].size();
  for (const auto& r : rows_) {
    for (size_t i = 0; i < r.size() && i < width.size(); ++i)
      width[i] = std::max(width[i], r[i].size());
  }
  std::string out;
  auto line = [&](const std::vector<std::string>& cells, bool upper) {
    std::string l;
    for (size_t i = 0; i < width.size(); ++i) {
      std::string cell = i < cells.size() ? cells[i] : "";
      if (upper) std::transform(cell.begin(), cell.end(), cell.begin(), ::toupper);
      l += cell;
      if (i + 1 < width.size()) l += std::string(width[i] - cell.size() + 2, ' ');
    }
    while (!l.empty() && l.back() == ' ') l.pop_back();
    out += l + "\n";
  };
  line(headers_, true);
  for (const auto& r : rows_) line(r, false);
  return out;
}

std::string JoinInts(const std::vector<int32_t>& v) {
  std::string out;
  for (size_t i = 0; i < v.size(); ++i) {
    if (i > 0) out += ",";
    out += std::to_string(v[i]);
  }
  return out;
}

}  // namespace fjord::ctl
