// fjord: the Fjord server. This build holds the protocol foundation only; the broker
// (listeners, storage, metadata quorum) is not written yet, and the binary says so
// instead of pretending to serve.

#include <cstdio>
#include <cstring>

#include "fjord/protocol/api_keys.h"

namespace {

constexpr const char* kVersion = FJORD_VERSION;

void PrintHelp() {
  std::printf(
      "Usage: fjord [--config FILE] [--version] [--help]\n"
      "\n"
      "Fjord is a Kafka-protocol-compatible log broker.\n"
      "  --config FILE  broker configuration (YAML, Kafka setting names)\n"
      "  --version      print the version and exit\n"
      "  --help         print this help and exit\n");
}

}  // namespace

int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--version") == 0) {
      std::printf("fjord %s\n", kVersion);
      return 0;
    }
    if (std::strcmp(argv[i], "--help") == 0 || std::strcmp(argv[i], "-h") == 0) {
      PrintHelp();
      return 0;
    }
  }
  std::fprintf(stderr,
               "fjord %s: the broker server is not implemented yet, so nothing listens on "
               "127.0.0.1:9092.\n"
               "This build contains the Kafka protocol codec (%zu API keys generated from the "
               "specs) and the RecordBatch codec; run scripts/test.sh to exercise them.\n",
               kVersion, fjord::protocol::kApis.size());
  return 2;
}
