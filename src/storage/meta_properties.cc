#include "fjord/storage/meta_properties.h"

#include <map>
#include <random>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace fjord::storage {

namespace {

std::string PathOf(const std::string& dir) {
  return absl::StrCat(dir, "/", kMetaPropertiesFileName);
}

absl::Status Malformed(const std::string& path, std::string_view why) {
  return absl::DataLossError(
      absl::StrCat(path, " is malformed: ", absl::string_view(why.data(), why.size())));
}

}  // namespace

std::string NewRandomUuidText() {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::random_device rd;
  std::mt19937_64 rng((static_cast<uint64_t>(rd()) << 32) ^ rd());
  for (;;) {
    uint8_t b[16];
    for (int i = 0; i < 16; i += 8) {
      uint64_t v = rng();
      for (int j = 0; j < 8; ++j) b[i + j] = static_cast<uint8_t>(v >> (8 * j));
    }
    b[6] = static_cast<uint8_t>((b[6] & 0x0f) | 0x40);
    b[8] = static_cast<uint8_t>((b[8] & 0x3f) | 0x80);
    std::string out;
    for (int i = 0; i < 16; i += 3) {
      uint32_t chunk = static_cast<uint32_t>(b[i]) << 16;
      if (i + 1 < 16) chunk |= static_cast<uint32_t>(b[i + 1]) << 8;
      if (i + 2 < 16) chunk |= b[i + 2];
      const int chars = i + 2 < 16 ? 4 : (i + 1 < 16 ? 3 : 2);
      for (int c = 0; c < chars; ++c) out.push_back(kAlphabet[(chunk >> (18 - 6 * c)) & 63]);
    }
    if (out[0] != '-') return out;  // ids starting with '-' read as options
  }
}

absl::StatusOr<std::optional<MetaProperties>> ReadMetaProperties(FileSystem& fs,
                                                                 const std::string& dir) {
  const std::string path = PathOf(dir);
  if (!fs.Exists(path)) return std::optional<MetaProperties>();
  absl::StatusOr<std::unique_ptr<File>> f = fs.Open(path, /*create=*/false);
  if (!f.ok()) return f.status();
  absl::StatusOr<uint64_t> size = (*f)->Size();
  if (!size.ok()) return size.status();
  if (*size > 64 * 1024) return Malformed(path, "larger than 64 KiB");
  std::string text(*size, '\0');
  absl::StatusOr<size_t> n =
      (*f)->ReadAt(0, std::span<uint8_t>(reinterpret_cast<uint8_t*>(text.data()), text.size()));
  if (!n.ok()) return n.status();
  text.resize(*n);
  std::map<std::string, std::string> kv;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    line = absl::StripAsciiWhitespace(line);
    if (line.empty() || line[0] == '#' || line[0] == '!') continue;
    size_t eq = line.find('=');
    if (eq == absl::string_view::npos) {
      return Malformed(path, absl::StrCat("line '", line, "' has no '='"));
    }
    kv[std::string(absl::StripAsciiWhitespace(line.substr(0, eq)))] =
        std::string(absl::StripAsciiWhitespace(line.substr(eq + 1)));
  }
  MetaProperties p;
  if (!absl::SimpleAtoi(kv["version"], &p.version) || p.version != 1) {
    return Malformed(path, absl::StrCat("version '", kv["version"], "' (expected 1)"));
  }
  int32_t node = -1;
  if (!absl::SimpleAtoi(kv["node.id"], &node) || node < 0) {
    return Malformed(path, absl::StrCat("node.id '", kv["node.id"], "'"));
  }
  p.node_id = NodeId(node);
  p.cluster_id = kv["cluster.id"];
  if (p.cluster_id.empty()) return Malformed(path, "no cluster.id");
  p.directory_id = kv["directory.id"];
  return std::optional<MetaProperties>(p);
}

absl::Status WriteMetaProperties(FileSystem& fs, const std::string& dir,
                                 const MetaProperties& props) {
  std::string text =
      absl::StrCat("#\n#Written by Fjord\n", "cluster.id=", props.cluster_id, "\n",
                   "directory.id=", props.directory_id, "\n", "node.id=", props.node_id.value, "\n",
                   "version=", props.version, "\n");
  return fs.WriteFileAtomically(
      PathOf(dir),
      std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(text.data()), text.size()));
}

absl::StatusOr<std::string> EnsureMetaProperties(FileSystem& fs,
                                                 const std::vector<std::string>& dirs,
                                                 NodeId node_id,
                                                 const std::string& cluster_id_if_new) {
  std::string cluster_id;
  std::string cluster_dir;
  std::vector<std::string> missing;
  for (const std::string& dir : dirs) {
    if (absl::Status s = fs.CreateDirs(dir); !s.ok()) return s;
    absl::StatusOr<std::optional<MetaProperties>> p = ReadMetaProperties(fs, dir);
    if (!p.ok()) return p.status();
    if (!p->has_value()) {
      missing.push_back(dir);
      continue;
    }
    const MetaProperties& m = **p;
    if (m.node_id != node_id) {
      return absl::FailedPreconditionError(
          absl::StrCat("data dir ", dir, " belongs to node ", m.node_id.value,
                       " but this node's node.id is ", node_id.value));
    }
    if (!cluster_id.empty() && m.cluster_id != cluster_id) {
      return absl::FailedPreconditionError(absl::StrCat("data dir ", dir, " belongs to cluster ",
                                                        m.cluster_id, " but ", cluster_dir,
                                                        " belongs to cluster ", cluster_id));
    }
    cluster_id = m.cluster_id;
    cluster_dir = dir;
  }
  if (cluster_id.empty()) cluster_id = cluster_id_if_new;
  for (const std::string& dir : missing) {
    MetaProperties m;
    m.cluster_id = cluster_id;
    m.node_id = node_id;
    m.directory_id = NewRandomUuidText();
    if (absl::Status s = WriteMetaProperties(fs, dir, m); !s.ok()) return s;
  }
  return cluster_id;
}

}  // namespace fjord::storage
