#pragma once
// Starts a real `fjord` on an ephemeral loopback port in a temp dir and stops it (by its
// PID, SIGTERM then SIGKILL) when the object goes away. For C++ tests of code that talks
// to a broker (the client, fjordctl, the hostile-client suite). A test may also stop it,
// kill it, and start it again on the same data.

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "temp_dir.h"

namespace fjord::testing {

class BrokerProcess {
 public:
  // `fjord`: the binary; `settings`: extra --set key=value pairs.
  explicit BrokerProcess(const std::string& fjord, std::vector<std::string> settings = {})
      : fjord_(fjord), settings_(std::move(settings)) {
    Start();
  }
  ~BrokerProcess() { Stop(); }
  BrokerProcess(const BrokerProcess&) = delete;
  BrokerProcess& operator=(const BrokerProcess&) = delete;

  // Starts the broker (again) on the same data dir; port() is 0 if it never listened.
  void Start() {
    port_ = 0;
    const std::string out = dir_ / "stdout.txt";
    // A restart must not read the previous run's "listening on" line.
    if (!ReadFile(out).empty()) {
      std::ofstream(dir_ / "stdout.old.txt", std::ios::app) << ReadFile(out);
      std::remove(out.c_str());
    }
    std::vector<std::string> args = {fjord_, "--set", "listeners=PLAINTEXT://127.0.0.1:0", "--set",
                                     "log.dirs=" + data_dir()};
    for (const std::string& s : settings_) {
      args.push_back("--set");
      args.push_back(s);
    }
    pid_ = ::fork();
    if (pid_ == 0) {
      FILE* f = std::freopen(out.c_str(), "w", stdout);
      FILE* e = std::freopen((dir_ / "stderr.txt").c_str(), "a", stderr);
      (void)f;
      (void)e;
      std::vector<char*> argv;
      for (std::string& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
    const std::regex listening("listening on PLAINTEXT://[0-9.]+:([0-9]+)");
    for (int i = 0; i < 600 && port_ == 0 && alive(); ++i) {
      std::smatch m;
      const std::string text = ReadFile(out);
      if (std::regex_search(text, m, listening)) port_ = std::stoi(m[1]);
      if (port_ == 0) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }

  // SIGTERM, then SIGKILL after 10 s. Returns the exit status as waitpid gives it, or -1
  // when no broker was running.
  int Stop() {
    if (pid_ <= 0) return -1;
    ::kill(pid_, SIGTERM);
    int status = 0;
    for (int i = 0; i < 200; ++i) {
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return status;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
    return status;
  }

  // SIGKILL: a crash, as far as the data on disk is concerned.
  void Kill() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }

  // Whether the process runs (an exited one is not reaped here: Stop() collects it).
  bool alive() const {
    if (pid_ <= 0) return false;
    siginfo_t info{};
    return ::waitid(P_PID, static_cast<id_t>(pid_), &info, WEXITED | WNOHANG | WNOWAIT) == 0 &&
           info.si_pid == 0;
  }
  int port() const { return port_; }  // 0: it never listened
  pid_t pid() const { return pid_; }
  std::string bootstrap() const { return "127.0.0.1:" + std::to_string(port_); }
  std::string data_dir() const { return dir_ / "data"; }
  // Everything the broker wrote (stdout and stderr, across restarts).
  std::string log() const {
    return ReadFile(dir_ / "stdout.old.txt") + ReadFile(dir_ / "stdout.txt") +
           ReadFile(dir_ / "stderr.txt");
  }
  // Resident memory in KiB (VmRSS), or -1.
  long rss_kib() const {
    std::ifstream in("/proc/" + std::to_string(pid_) + "/status");
    std::string line;
    while (std::getline(in, line)) {
      if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
    }
    return -1;
  }

 private:
  static std::string ReadFile(const std::string& path) {
    std::ifstream in(path);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }

  TempDir dir_;
  std::string fjord_;
  std::vector<std::string> settings_;
  pid_t pid_ = -1;
  int port_ = 0;
};

}  // namespace fjord::testing
