// fjord: the Fjord server. Loads the configuration (embedded defaults, then the YAML file,
// then --set overrides), starts the node, prints one "listening on" line per listener on
// stdout, and stops gracefully on SIGTERM or SIGINT.

#include <signal.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <string>
#include <vector>

#include "absl/strings/str_join.h"
#include "fjord/base/logging.h"
#include "fjord/config/broker_config.h"
#include "fjord/config/sample_config.h"
#include "node.h"

namespace {

constexpr const char* kVersion = FJORD_VERSION;

bool SetUpLogging(const fjord::config::BrokerConfig& config) {
  spdlog::level::level_enum level = spdlog::level::from_str(config.GetString("logging.level"));
  spdlog::set_level(level);
  spdlog::set_pattern(config.GetString("logging.pattern"));
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "Fjord: a Kafka-protocol-compatible log broker.\n"
      "With no configuration it runs one combined node on 127.0.0.1:9092 with data in ./data.\n"
      "Settings use Kafka's names; see config/fjord.yaml for every one of them."};
  app.name("fjord");
  std::string config_path;
  std::vector<std::string> overrides;
  bool version = false;
  bool print_config = false;
  app.add_option("--config,-c", config_path,
                 "broker configuration file (YAML, Kafka setting names)");
  app.add_option("--set", overrides, "override one setting: --set key=value (repeatable)")
      ->take_all()
      ->allow_extra_args(false);
  app.add_flag("--version", version, "print the version and exit");
  app.add_flag("--print-config", print_config,
               "print every setting with its default as YAML (config/fjord.yaml) and exit");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  if (version) {
    std::printf("fjord %s\n", kVersion);
    return 0;
  }
  if (print_config) {
    std::fputs(fjord::config::SampleConfigYaml().c_str(), stdout);
    return 0;
  }

  std::optional<std::string> path;
  if (!config_path.empty()) path = config_path;
  absl::StatusOr<fjord::config::BrokerConfig> config =
      fjord::config::BrokerConfig::Load(path, overrides);
  if (!config.ok()) {
    std::fprintf(stderr, "fjord: %s\n", std::string(config.status().message()).c_str());
    return 2;
  }
  SetUpLogging(*config);
  spdlog::logger& log = fjord::NamedLogger("fjord");

  // Signals are taken by sigwait below: block them before any thread starts so that every
  // thread inherits the mask. A peer closing mid-write must not kill the process.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  fjord::app::Node node(*config);
  if (absl::Status s = node.Start(); !s.ok()) {
    log.critical("fjord failed to start: {}", s.message());
    std::fprintf(stderr, "fjord: %s\n", std::string(s.message()).c_str());
    node.Stop();
    return 1;
  }
  std::vector<std::string> names;
  for (const auto& l : node.listeners()) {
    names.push_back(l.spec.name + "://" + l.spec.host + ":" + std::to_string(l.spec.port));
  }
  log.info("Fjord {} started: node.id {}, cluster.id {}, listeners {}, log.dirs {}", kVersion,
           config->GetInt("node.id"), node.cluster_id(), absl::StrJoin(names, ","),
           absl::StrJoin(config->LogDirs(), ","));
  for (const std::string& n : names) std::printf("listening on %s\n", n.c_str());
  std::fflush(stdout);

  int sig = 0;
  sigwait(&stop_signals, &sig);
  log.info("received {}, stopping", sig == SIGTERM ? "SIGTERM" : "SIGINT");
  node.Stop();
  log.info("stopped cleanly");
  return 0;
}
