#pragma once
// What every fjordctl command shares: the client (made on first use from the global
// flags), the output format, and how Kafka errors become one-line failures.

#include <CLI/CLI.hpp>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "fjord/client/client.h"
#include "fjord/protocol/error_codes.h"
#include "output.h"

namespace fjord::ctl {

struct Context {
  client::Options options;
  Format format = Format::kTable;
  // What each command does, run by main once the command line is parsed.
  std::map<const CLI::App*, std::function<absl::Status()>> actions;

  client::Client& client();
  // Prints the table (people) or the JSON (scripts), as --format says.
  void Print(const Table& table, const Json& json) const;
  // A one-line confirmation for people; scripts get `json`.
  void Done(const std::string& text, const Json& json) const;

 private:
  std::unique_ptr<client::Client> client_;
};

// Ctrl-C and SIGTERM: long-running commands (consume, perf) check this between steps and
// finish cleanly (commit, leave the group, print the summary). A second signal kills.
void CatchInterrupts();
bool Interrupted();

// Registers `run` as what `cmd` does; its status becomes the exit status.
void OnRun(CLI::App* cmd, Context& ctx, std::function<absl::Status()> run);

// A Kafka error code as a failure: "ERROR_NAME: message" and, where one helps, a hint.
// NONE is OK.
absl::Status KafkaError(int16_t code, const std::optional<std::string>& message = std::nullopt,
                        const std::string& what = "");

using client::PartitionRetry;

// The first partition error of a topics[].partitions[] answer, named "topic-partition".
template <typename Topics>
absl::Status FirstPartitionError(const Topics& topics) {
  for (const auto& t : topics) {
    for (const auto& p : t.partitions) {
      absl::Status s = KafkaError(p.error_code, std::nullopt,
                                  t.name + "-" + std::to_string(p.partition_index.value));
      if (!s.ok()) return s;
    }
  }
  return absl::OkStatus();
}

// Commands, one family per file.
void AddClusterCommands(CLI::App& app, Context& ctx);
void AddTopicCommands(CLI::App& app, Context& ctx);
void AddConfigCommands(CLI::App& app, Context& ctx);
void AddGroupCommands(CLI::App& app, Context& ctx);
void AddTxnCommands(CLI::App& app, Context& ctx);
void AddRecordCommands(CLI::App& app, Context& ctx);
void AddDataCommands(CLI::App& app, Context& ctx);
void AddPerfCommands(CLI::App& app, Context& ctx);

}  // namespace fjord::ctl
