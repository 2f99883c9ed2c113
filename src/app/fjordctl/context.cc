#include "context.h"

#include <csignal>
#include <cstdio>

#include "absl/strings/str_cat.h"
#include "fjord/protocol/error_codes.h"

namespace fjord::ctl {

using protocol::ErrorCode;

namespace {

volatile std::sig_atomic_t g_interrupted = 0;

void OnInterrupt(int sig) {
  g_interrupted = 1;
  std::signal(sig, SIG_DFL);  // a second one ends the process at once
}

std::string Hint(ErrorCode e) {
  switch (e) {
    case ErrorCode::kTopicAuthorizationFailed:
      return "the principal needs an ACL allowing this operation on the topic "
             "(resource TOPIC, e.g. DESCRIBE, WRITE or ALTER)";
    case ErrorCode::kGroupAuthorizationFailed:
      return "the principal needs an ACL allowing this operation on the group (resource GROUP)";
    case ErrorCode::kClusterAuthorizationFailed:
      return "the principal needs an ACL on the CLUSTER resource (e.g. ALTER or DESCRIBE)";
    case ErrorCode::kTransactionalIdAuthorizationFailed:
      return "the principal needs an ACL on the TRANSACTIONAL_ID resource";
    case ErrorCode::kUnknownTopicOrPartition:
      return "see the topics with `fjordctl topic list`";
    case ErrorCode::kTopicAlreadyExists:
      return "describe it with `fjordctl topic describe`";
    case ErrorCode::kNonEmptyGroup:
      return "stop the group's consumers first; `fjordctl group describe` shows them";
    case ErrorCode::kGroupIdNotFound:
      return "see the groups with `fjordctl group list`";
    case ErrorCode::kInvalidReplicationFactor:
      return "the replication factor cannot exceed the number of brokers (`fjordctl cluster info`)";
    case ErrorCode::kPolicyViolation:
    case ErrorCode::kInvalidConfig:
      return "`fjordctl config describe` shows the current values and their sources";
    default:
      return "";
  }
}

}  // namespace

client::Client& Context::client() {
  if (!client_) client_ = std::make_unique<client::Client>(options);
  return *client_;
}

void Context::Print(const Table& table, const Json& json) const {
  if (format == Format::kJson) {
    std::printf("%s\n", json.Dump().c_str());
  } else {
    std::fputs(table.Render().c_str(), stdout);
  }
}

void Context::Done(const std::string& text, const Json& json) const {
  if (format == Format::kJson) {
    std::printf("%s\n", json.Dump().c_str());
  } else {
    std::printf("%s\n", text.c_str());
  }
}

void OnRun(CLI::App* cmd, Context& ctx, std::function<absl::Status()> run) {
  ctx.actions[cmd] = std::move(run);
}

absl::Status KafkaError(int16_t code, const std::optional<std::string>& message,
                        const std::string& what) {
  const auto e = static_cast<ErrorCode>(code);
  if (e == ErrorCode::kNone) return absl::OkStatus();
  std::string text = what.empty() ? "" : what + ": ";
  text += std::string(protocol::ErrorName(e));
  if (message && !message->empty()) absl::StrAppend(&text, ": ", *message);
  if (std::string hint = Hint(e); !hint.empty()) absl::StrAppend(&text, " (hint: ", hint, ")");
  return absl::FailedPreconditionError(text);
}

void CatchInterrupts() {
  std::signal(SIGINT, OnInterrupt);
  std::signal(SIGTERM, OnInterrupt);
}

bool Interrupted() { return g_interrupted != 0; }

}  // namespace fjord::ctl
