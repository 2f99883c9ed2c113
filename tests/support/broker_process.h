#pragma once
// Starts a real `fjord` on an ephemeral loopback port in a temp dir and stops it (by its
// PID, SIGTERM then SIGKILL) when the object goes away. For C++ tests of code that talks
// to a broker (the client, fjordctl).

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
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
  explicit BrokerProcess(const std::string& fjord, std::vector<std::string> settings = {}) {
    const std::string out = dir_ / "stdout.txt";
    std::vector<std::string> args = {fjord, "--set", "listeners=PLAINTEXT://127.0.0.1:0", "--set",
                                     "log.dirs=" + (dir_ / "data")};
    for (std::string& s : settings) {
      args.push_back("--set");
      args.push_back(std::move(s));
    }
    pid_ = ::fork();
    if (pid_ == 0) {
      FILE* f = std::freopen(out.c_str(), "w", stdout);
      FILE* e = std::freopen((dir_ / "stderr.txt").c_str(), "w", stderr);
      (void)f;
      (void)e;
      std::vector<char*> argv;
      for (std::string& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
    const std::regex listening("listening on PLAINTEXT://[0-9.]+:([0-9]+)");
    for (int i = 0; i < 600 && port_ == 0; ++i) {
      std::ifstream in(out);
      std::stringstream ss;
      ss << in.rdbuf();
      std::smatch m;
      const std::string text = ss.str();
      if (std::regex_search(text, m, listening)) port_ = std::stoi(m[1]);
      if (port_ == 0) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }
  ~BrokerProcess() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGTERM);
    for (int i = 0; i < 200; ++i) {
      if (::waitpid(pid_, nullptr, WNOHANG) == pid_) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
  BrokerProcess(const BrokerProcess&) = delete;
  BrokerProcess& operator=(const BrokerProcess&) = delete;

  int port() const { return port_; }  // 0: it never listened
  std::string bootstrap() const { return "127.0.0.1:" + std::to_string(port_); }

 private:
  TempDir dir_;
  pid_t pid_ = -1;
  int port_ = 0;
};

}  // namespace fjord::testing
