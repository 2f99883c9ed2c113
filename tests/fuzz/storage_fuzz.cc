// libFuzzer target for the storage decoders: whatever bytes sit in a data dir, opening
// them never crashes, and what the log serves afterwards is valid. The first byte picks
// the file the rest of the input becomes:
//   0 recovery-point checkpoint   1 leader-epoch checkpoint   2 a segment's .log (recovered)
//   3 a segment's .index next to a valid .log (clean open)    4 a segment's .txnindex
//   5 a producer snapshot, its CRC made right so the entries themselves are decoded
#include <spdlog/spdlog.h>
#include <stdlib.h>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <span>
#include <string>

#include "fjord/base/clock.h"
#include "fjord/base/crc32c.h"
#include "fjord/protocol/record_batch_builder.h"
#include "fjord/storage/checkpoint_file.h"
#include "fjord/storage/leader_epoch_cache.h"
#include "fjord/storage/log.h"
#include "fjord/storage/producer_snapshot.h"
#include "fjord/storage/txn_index.h"

namespace {

using namespace fjord;
using namespace fjord::storage;

std::string& Root() {
  static std::string root = [] {
    std::string tmpl = (std::filesystem::temp_directory_path() / "fjord-fuzz-XXXXXX").string();
    return std::string(::mkdtemp(tmpl.data()));
  }();
  return root;
}

void Write(const std::string& path, std::span<const uint8_t> data) {
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) std::abort();
  if (!data.empty() && std::fwrite(data.data(), 1, data.size(), f) != data.size()) std::abort();
  std::fclose(f);
}

std::vector<uint8_t> Batch(Offset base) {
  protocol::RecordBatchBuilder b(base);
  b.Add(1'700'000'000'000, protocol::AsBytes("k"), protocol::AsBytes("value"));
  return *std::move(b).Build();
}

// Reads the whole log and checks what it serves: valid batches, contiguous offsets.
void CheckServes(Log& log) {
  Offset next = log.log_start_offset();
  for (int guard = 0; guard < 10000 && next < log.log_end_offset(); ++guard) {
    auto r = log.Read(next, 1 << 16, log.log_end_offset(), true);
    if (!r.ok()) return;  // an I/O error is reported, not hidden
    if (r->regions.empty()) std::abort();
    auto bytes = ReadRegions(r->regions);
    if (!bytes.ok()) return;
    protocol::RecordBatchIterator it(*bytes);
    while (it.Next()) {
      if (it.batch().header().last_offset() < next) std::abort();
      next = it.batch().header().next_offset();
    }
    if (!it.status().ok() || it.has_partial_tail()) std::abort();
  }
}

void FuzzLog(std::span<const uint8_t> data, bool index_file) {
  const std::string dir = Root() + "/t-0";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  const std::string base = dir + "/00000000000000000000";
  if (index_file) {
    std::vector<uint8_t> log;
    for (int i = 0; i < 8; ++i) {
      std::vector<uint8_t> b = Batch(Offset(i));
      log.insert(log.end(), b.begin(), b.end());
    }
    Write(base + ".log", log);
    Write(base + ".index", data);
  } else {
    Write(base + ".log", data);
  }
  ManualClock clock;
  Log::Params p;
  p.fs = &PosixFileSystem();
  p.clock = &clock;
  p.dir = dir;
  p.topic_partition = {"t", PartitionId(0)};
  p.config.index_interval_bytes = 64;
  p.had_clean_shutdown = index_file;
  auto log = Log::Open(std::move(p));
  if (!log.ok()) return;
  CheckServes(**log);
  // The recovered log takes appends at its end.
  std::vector<uint8_t> b = Batch(Offset(0));
  if (!(*log)->AppendAsLeader(b, LeaderEpoch(0)).ok()) std::abort();
  CheckServes(**log);
}

// A snapshot that decodes re-encodes to one that decodes to the same state.
void FuzzProducerSnapshot(std::span<const uint8_t> data) {
  std::vector<uint8_t> bytes(data.begin(), data.end());
  if (bytes.size() >= 6 && (bytes[0] & 1)) {
    const uint32_t crc = crc32c::Value(bytes.data() + 6, bytes.size() - 6);
    for (int i = 0; i < 4; ++i) bytes[2 + i] = static_cast<uint8_t>(crc >> (24 - 8 * i));
    bytes[0] = 0;
    bytes[1] = 1;
  }
  auto table = DecodeProducerSnapshot(bytes, Offset(1 << 20));
  if (!table.ok()) return;
  auto again = DecodeProducerSnapshot(EncodeProducerSnapshot(*table), Offset(1 << 20));
  if (!again.ok() || again->size() != table->size() ||
      again->FirstUnstableOffset() != table->FirstUnstableOffset()) {
    std::abort();
  }
  for (const auto& [id, e] : table->producers()) {
    const ProducerEntry* other = again->Find(ProducerId(id));
    if (other == nullptr || other->epoch != e.epoch || other->batches.size() != e.batches.size() ||
        other->txn_first_offset != e.txn_first_offset) {
      std::abort();
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  spdlog::set_level(spdlog::level::off);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::span<const uint8_t> rest(data + 1, size - 1);
  FileSystem& fs = PosixFileSystem();
  switch (data[0] % 6) {
    case 0: {
      const std::string path = Root() + "/checkpoint";
      Write(path, rest);
      (void)ReadOffsetCheckpoint(fs, path);
      break;
    }
    case 1: {
      const std::string path = Root() + "/leader-epoch-checkpoint";
      Write(path, rest);
      if (auto cache = LeaderEpochCache::Open(fs, path); cache.ok()) {
        (void)(*cache)->EndOffsetFor(LeaderEpoch(3), Offset(100));
      }
      break;
    }
    case 2:
      FuzzLog(rest, false);
      break;
    case 3:
      FuzzLog(rest, true);
      break;
    case 4: {
      const std::string path = Root() + "/x.txnindex";
      Write(path, rest);
      if (auto index = TxnIndex::Open(fs, path); index.ok()) {
        (void)(*index)->CollectAbortedTxns(Offset(0), Offset(1 << 20));
      }
      break;
    }
    case 5:
      FuzzProducerSnapshot(rest);
      break;
  }
  return 0;
}
