#include <algorithm>
#include <regex>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "fjord/protocol/record_batch.h"
#include "fjord/protocol/record_batch_builder.h"
#include "fjord/raft/raft_client.h"
#include "fjord/storage/log.h"
#include "fjord/storage/log_manager.h"

namespace fjord::raft {

namespace {

constexpr const char* kQuorumStateFile = "quorum-state";
constexpr uint64_t kReadChunkBytes = 1 << 20;

absl::StatusOr<std::string> ReadWholeFile(storage::FileSystem& fs, const std::string& path) {
  absl::StatusOr<std::unique_ptr<storage::File>> f = fs.Open(path, /*create=*/false);
  if (!f.ok()) return f.status();
  absl::StatusOr<uint64_t> size = (*f)->Size();
  if (!size.ok()) return size.status();
  if (*size > (1 << 20)) return absl::DataLossError(absl::StrCat(path, " is too large"));
  std::string out(*size, '\0');
  absl::StatusOr<size_t> n =
      (*f)->ReadAt(0, std::span<uint8_t>(reinterpret_cast<uint8_t*>(out.data()), out.size()));
  if (!n.ok()) return n.status();
  out.resize(*n);
  return out;
}

}  // namespace

absl::StatusOr<LeaderEpoch> ReadQuorumEpoch(storage::FileSystem& fs, const std::string& path) {
  if (!fs.Exists(path)) return LeaderEpoch(-1);
  absl::StatusOr<std::string> text = ReadWholeFile(fs, path);
  if (!text.ok()) return text.status();
  static const std::regex kEpoch(R"re("leaderEpoch"\s*:\s*(-?[0-9]+))re");
  std::smatch m;
  int32_t epoch = 0;
  if (text->find('{') == std::string::npos || !std::regex_search(*text, m, kEpoch) ||
      !absl::SimpleAtoi(m[1].str(), &epoch) || epoch < -1) {
    return absl::DataLossError(
        absl::StrCat("quorum state ", path, " is malformed (no valid \"leaderEpoch\")"));
  }
  return LeaderEpoch(epoch);
}

absl::Status WriteQuorumState(storage::FileSystem& fs, const std::string& path, NodeId leader,
                              LeaderEpoch epoch) {
  const std::string json = absl::StrCat("{\"clusterId\":\"\",\"leaderId\":", leader.value,
                                        ",\"leaderEpoch\":", epoch.value,
                                        ",\"votedId\":-1,\"appliedOffset\":0,\"currentVoters\":[{",
                                        "\"voterId\":", leader.value, "}],\"data_version\":0}\n");
  return fs.WriteFileAtomically(
      path, std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(json.data()), json.size()));
}

SingleVoterRaft::SingleVoterRaft(Params params, std::unique_ptr<storage::Log> log,
                                 LeaderEpoch epoch)
    : params_(std::move(params)), node_id_(params_.node_id), epoch_(epoch), log_(std::move(log)) {}

SingleVoterRaft::~SingleVoterRaft() { (void)Close(); }

absl::StatusOr<std::unique_ptr<SingleVoterRaft>> SingleVoterRaft::Open(const Params& params) {
  storage::FileSystem& fs = *params.fs;
  const std::string dir = absl::StrCat(params.metadata_log_dir, "/", storage::kMetadataLogDirName);
  if (absl::Status s = fs.CreateDirs(dir); !s.ok()) return s;
  const std::string state_path = absl::StrCat(dir, "/", kQuorumStateFile);
  absl::StatusOr<LeaderEpoch> last = ReadQuorumEpoch(fs, state_path);
  if (!last.ok()) return last.status();

  storage::Log::Params lp;
  lp.fs = params.fs;
  lp.clock = params.clock;
  lp.dir = dir;
  lp.topic_partition = storage::TopicPartition{"__cluster_metadata", PartitionId(0)};
  lp.config.retention_ms = -1;
  lp.config.retention_bytes = -1;
  lp.config.segment_bytes = 64 << 20;
  lp.config.message_timestamp_after_max_ms = storage::kUnlimited;
  lp.had_clean_shutdown = false;  // small: always rescanned
  absl::StatusOr<std::unique_ptr<storage::Log>> log = storage::Log::Open(std::move(lp));
  if (!log.ok()) {
    return absl::Status(log.status().code(),
                        absl::StrCat("metadata log ", dir, ": ", log.status().message()));
  }
  // A new epoch, persisted before anything is appended in it.
  LeaderEpoch epoch(std::max(last->value, (*log)->LatestEpoch().value_or(LeaderEpoch(0)).value) +
                    1);
  if (absl::Status s = WriteQuorumState(fs, state_path, params.node_id, epoch); !s.ok()) {
    return s;
  }
  return std::unique_ptr<SingleVoterRaft>(new SingleVoterRaft(params, std::move(*log), epoch));
}

absl::Status SingleVoterRaft::Close() {
  std::lock_guard<std::mutex> lock(mu_);
  if (!log_) return absl::OkStatus();
  absl::Status s = log_->FlushAll();
  absl::Status c = log_->Close();
  log_.reset();
  return s.ok() ? c : s;
}

absl::StatusOr<Offset> SingleVoterRaft::AppendAndCommit(std::vector<std::vector<uint8_t>> records) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!log_) return absl::FailedPreconditionError("the metadata log is closed");
  if (records.empty()) return absl::InvalidArgumentError("an empty metadata batch");
  protocol::RecordBatchBuilder builder;
  builder.SetPartitionLeaderEpoch(epoch_);
  const int64_t now = params_.clock->NowMs();
  for (const std::vector<uint8_t>& v : records) {
    builder.Add(now, std::nullopt, std::span<const uint8_t>(v));
  }
  absl::StatusOr<std::vector<uint8_t>> batch = std::move(builder).Build();
  if (!batch.ok()) return batch.status();
  absl::StatusOr<storage::LogAppendInfo> info =
      log_->AppendAsLeader(*batch, epoch_, storage::AppendOrigin::kCoordinator);
  if (!info.ok()) return info.status();
  // Commit = durable on the one voter.
  if (absl::Status s = log_->FlushAll(); !s.ok()) return s;
  return info->last_offset;
}

Offset SingleVoterRaft::HighWatermark() const {
  std::lock_guard<std::mutex> lock(mu_);
  return log_ ? log_->log_end_offset() : Offset(0);
}

absl::Status SingleVoterRaft::ReadCommitted(
    Offset from, const std::function<absl::Status(const CommittedBatch&)>& fn) {
  Offset next = from;
  for (;;) {
    std::vector<uint8_t> bytes;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!log_) return absl::FailedPreconditionError("the metadata log is closed");
      const Offset end = log_->log_end_offset();
      if (next.value < log_->log_start_offset().value) next = log_->log_start_offset();
      if (next.value >= end.value) return absl::OkStatus();
      absl::StatusOr<storage::LogReadResult> read = log_->Read(next, kReadChunkBytes, end, true);
      if (!read.ok()) return read.status();
      absl::StatusOr<std::vector<uint8_t>> data = storage::ReadRegions(read->regions);
      if (!data.ok()) return data.status();
      bytes = std::move(*data);
    }
    if (bytes.empty()) return absl::OkStatus();
    protocol::RecordBatchIterator it(bytes);
    while (it.Next()) {
      const protocol::RecordBatchView& b = it.batch();
      if (b.header().last_offset().value < next.value) continue;
      CommittedBatch c;
      c.base_offset = b.header().base_offset;
      c.last_offset = b.header().last_offset();
      c.epoch = b.header().partition_leader_epoch;
      c.is_control = b.header().is_control();
      if (!c.is_control) {
        protocol::RecordReader reader(b);
        while (reader.Next()) {
          const auto& value = reader.record().value;
          if (value) {
            c.records.emplace_back(value->begin(), value->end());
          } else {
            c.records.emplace_back();
          }
        }
        if (!reader.status().ok()) {
          return absl::DataLossError(absl::StrCat("metadata log batch at offset ",
                                                  c.base_offset.value, ": ",
                                                  reader.status().message()));
        }
      }
      next = b.header().next_offset();
      if (absl::Status s = fn(c); !s.ok()) return s;
    }
    if (!it.status().ok()) {
      return absl::DataLossError(
          absl::StrCat("metadata log near offset ", next.value, ": ", it.status().message()));
    }
  }
}

}  // namespace fjord::raft
