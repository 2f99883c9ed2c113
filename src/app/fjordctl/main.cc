// fjordctl: Fjord's admin CLI. Speaks only the Kafka protocol (through the client
// module), so it manages Apache Kafka clusters too. See docs/fjordctl.md.
//
// Where the cluster is: --bootstrap-server/-b, else $FJORD_BOOTSTRAP, else the config file
// (--config, default ~/.config/fjordctl.yaml: `bootstrap_server`, `format`, `timeout_ms`,
// `client_id`), else 127.0.0.1:9092. Exit status: 0 done, 1 the command failed (one line
// on stderr naming Kafka's error), 2 bad usage.

#include <yaml-cpp/yaml.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>

#include "absl/strings/str_split.h"
#include "context.h"

namespace {

using fjord::ctl::Context;
using fjord::ctl::Format;
using fjord::ctl::OnRun;

// Defaults from the config file; flags and the environment win over them.
struct FileDefaults {
  std::string bootstrap;
  std::string format;
  int64_t timeout_ms = 0;
  std::string client_id;
};

absl::StatusOr<FileDefaults> ReadDefaults(const std::string& path, bool must_exist) {
  FileDefaults d;
  if (path.empty() || !std::filesystem::exists(path)) {
    if (must_exist) return absl::NotFoundError("config file " + path + " does not exist");
    return d;
  }
  try {
    YAML::Node n = YAML::LoadFile(path);
    if (!n.IsMap() && !n.IsNull()) return absl::InvalidArgumentError(path + ": not a YAML map");
    for (const auto& kv : n) {
      const std::string key = kv.first.as<std::string>();
      if (key == "bootstrap_server") {
        d.bootstrap = kv.second.as<std::string>();
      } else if (key == "format") {
        d.format = kv.second.as<std::string>();
      } else if (key == "timeout_ms") {
        d.timeout_ms = kv.second.as<int64_t>();
      } else if (key == "client_id") {
        d.client_id = kv.second.as<std::string>();
      } else {
        return absl::InvalidArgumentError(path + ": unknown setting '" + key + "'");
      }
    }
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(path + ": " + e.what());
  }
  return d;
}

// `fjordctl completion bash`: a completion function over the command tree.
std::string BashCompletion(const CLI::App& app) {
  std::string cases;
  std::function<void(const CLI::App&, const std::string&)> walk = [&](const CLI::App& a,
                                                                      const std::string& path) {
    std::string words;
    for (const CLI::App* sub : a.get_subcommands([](const CLI::App*) { return true; })) {
      words += sub->get_name() + " ";
      walk(*sub, path.empty() ? sub->get_name() : path + " " + sub->get_name());
    }
    for (const CLI::Option* o : a.get_options()) {
      for (const std::string& l : o->get_lnames()) words += "--" + l + " ";
    }
    cases += "    \"" + path + "\") words=\"" + words + "\" ;;\n";
  };
  walk(app, "");
  return "# bash completion for fjordctl: source <(fjordctl completion bash)\n"
         "_fjordctl() {\n"
         "  local cur=${COMP_WORDS[COMP_CWORD]} path=\"\" w words\n"
         "  for w in \"${COMP_WORDS[@]:1:COMP_CWORD-1}\"; do\n"
         "    case \"$w\" in -*) ;; *) if [[ -n \"$path\" ]]; then path=\"$path $w\"; else "
         "path=\"$w\"; fi ;; esac\n"
         "  done\n"
         "  case \"$path\" in\n" +
         cases +
         "    *) words=\"\" ;;\n"
         "  esac\n"
         "  COMPREPLY=($(compgen -W \"$words\" -- \"$cur\"))\n"
         "}\n"
         "complete -F _fjordctl fjordctl\n";
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "fjordctl: manage a Fjord (or any Kafka) cluster: topics, configs, consumer groups,\n"
      "transactions, and data in and out. Every command takes --format json for scripts.\n"
      "Example: fjordctl -b 127.0.0.1:9092 topic create orders --partitions 6"};
  app.name("fjordctl");
  app.require_subcommand(1);
  app.fallthrough();  // global flags also after the command: fjordctl topic list --format json
  Context ctx;
  std::string bootstrap, format, config_path, client_id;
  int64_t timeout_ms = 0;
  app.add_option("--bootstrap-server,-b", bootstrap,
                 "host:port[,host:port...] of any brokers (default: $FJORD_BOOTSTRAP, the "
                 "config file, then 127.0.0.1:9092)");
  app.add_option("--format", format, "output: table (default) or json")
      ->check(CLI::IsMember({"table", "json"}));
  app.add_option("--timeout", timeout_ms, "how long one command may wait, in ms (default 30000)")
      ->check(CLI::PositiveNumber);
  app.add_option("--config", config_path,
                 "defaults file (YAML: bootstrap_server, format, timeout_ms, client_id; "
                 "default ~/.config/fjordctl.yaml)");
  app.add_option("--client-id", client_id, "the client id the brokers see (default fjordctl)");

  fjord::ctl::AddClusterCommands(app, ctx);
  fjord::ctl::AddTopicCommands(app, ctx);
  fjord::ctl::AddConfigCommands(app, ctx);
  fjord::ctl::AddGroupCommands(app, ctx);
  fjord::ctl::AddTxnCommands(app, ctx);
  fjord::ctl::AddRecordCommands(app, ctx);
  fjord::ctl::AddDataCommands(app, ctx);
  fjord::ctl::AddPerfCommands(app, ctx);
  CLI::App* completion = app.add_subcommand("completion", "print a shell completion script");
  std::string shell;
  completion->add_option("shell", shell, "the shell (bash)")
      ->required()
      ->check(CLI::IsMember({"bash"}));
  OnRun(completion, ctx, [&] {
    std::fputs(BashCompletion(app).c_str(), stdout);
    return absl::OkStatus();
  });

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  // Global options are settled before the command runs.
  {
    const char* home = std::getenv("HOME");
    const bool explicit_config = !config_path.empty();
    if (!explicit_config && home != nullptr) {
      config_path = std::string(home) + "/.config/fjordctl.yaml";
    }
    absl::StatusOr<FileDefaults> d = ReadDefaults(config_path, explicit_config);
    if (!d.ok()) {
      std::fprintf(stderr, "fjordctl: error: %s\n", std::string(d.status().message()).c_str());
      return 2;
    }
    if (bootstrap.empty()) {
      const char* env = std::getenv("FJORD_BOOTSTRAP");
      bootstrap = env != nullptr && *env != '\0' ? env : d->bootstrap;
    }
    if (bootstrap.empty()) bootstrap = "127.0.0.1:9092";
    if (format.empty()) format = d->format.empty() ? "table" : d->format;
    if (format != "table" && format != "json") {
      std::fprintf(stderr, "fjordctl: error: format must be table or json, not %s\n",
                   format.c_str());
      return 2;
    }
    if (timeout_ms == 0) timeout_ms = d->timeout_ms > 0 ? d->timeout_ms : 30000;
    if (client_id.empty()) client_id = d->client_id.empty() ? "fjordctl" : d->client_id;
    ctx.format = format == "json" ? Format::kJson : Format::kTable;
    for (absl::string_view a : absl::StrSplit(bootstrap, ',', absl::SkipEmpty())) {
      ctx.options.bootstrap.emplace_back(a);
    }
    ctx.options.client_id = client_id;
    ctx.options.request_timeout = std::chrono::milliseconds(timeout_ms);
    ctx.options.connect_timeout =
        std::min(ctx.options.connect_timeout, ctx.options.request_timeout);
  }
  // The command chosen: the deepest subcommand parsed.
  const CLI::App* cmd = &app;
  while (!cmd->get_subcommands().empty()) cmd = cmd->get_subcommands().front();
  auto action = ctx.actions.find(cmd);
  if (action == ctx.actions.end()) {
    std::fputs(cmd->help().c_str(), stderr);
    return 2;
  }
  absl::Status result = action->second();
  if (!result.ok()) {
    std::fprintf(stderr, "fjordctl: error: %s\n", std::string(result.message()).c_str());
    return absl::IsInvalidArgument(result) ? 2 : 1;
  }
  return 0;
}
