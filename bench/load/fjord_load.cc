// fjord_load: a load generator on librdkafka. It produces `count` messages of `size`
// bytes to a topic of `partitions` partitions (optionally paced to `rate` msgs/s), then
// consumes them all back, and reports msgs/s, MB/s and the produce latency percentiles
// (send to delivery report). With --mock it runs against librdkafka's in-process mock
// cluster (everything in memory): the baseline a broker is compared with.
//
//   fjord_load --brokers 127.0.0.1:9092 --size 1024 --count 500000 --acks 1
//   fjord_load --mock --size 1024 --count 500000 --acks 1

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

struct Options {
  std::string brokers;
  bool mock = false;
  std::string topic;
  int size = 1024;
  int64_t count = 100000;
  int partitions = 6;
  std::string acks = "1";
  int64_t rate = 0;  // msgs/s; 0 = as fast as possible
  int linger_ms = 5;
  int batch_bytes = 1 << 20;
  std::string compression = "none";
  bool produce = true;
  bool consume = true;
  double timeout_s = 300;
};

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "fjord_load: %s\n", what.c_str());
  std::exit(1);
}

void Set(rd_kafka_conf_t* conf, const char* key, const std::string& value) {
  char err[512];
  if (rd_kafka_conf_set(conf, key, value.c_str(), err, sizeof err) != RD_KAFKA_CONF_OK) {
    Die(std::string(key) + ": " + err);
  }
}

rd_kafka_t* NewClient(rd_kafka_type_t type, rd_kafka_conf_t* conf) {
  char err[512];
  rd_kafka_t* rk = rd_kafka_new(type, conf, err, sizeof err);
  if (rk == nullptr) Die(err);
  return rk;
}

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

double Percentile(std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  size_t i = static_cast<size_t>(p * static_cast<double>(sorted.size() - 1) + 0.5);
  return sorted[std::min(i, sorted.size() - 1)];
}

// Per-message state of the produce phase; the delivery callback reads it.
struct ProduceState {
  std::vector<Clock::time_point> sent;
  std::vector<double> latency_ms;
  int64_t delivered = 0;
  int64_t failed = 0;
  std::string first_error;
};

void OnDelivery(rd_kafka_t*, const rd_kafka_message_t* m, void* opaque) {
  auto* st = static_cast<ProduceState*>(opaque);
  if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    if (st->failed++ == 0) st->first_error = rd_kafka_err2str(m->err);
    return;
  }
  auto idx = reinterpret_cast<uintptr_t>(m->_private);
  st->latency_ms.push_back(
      std::chrono::duration<double, std::milli>(Clock::now() - st->sent[idx]).count());
  ++st->delivered;
}

void CreateTopic(const Options& o, const std::string& bootstrap) {
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  Set(conf, "bootstrap.servers", bootstrap);
  rd_kafka_t* rk = NewClient(RD_KAFKA_PRODUCER, conf);
  rd_kafka_NewTopic_t* nt = rd_kafka_NewTopic_new(o.topic.c_str(), o.partitions, 1, nullptr, 0);
  rd_kafka_queue_t* q = rd_kafka_queue_new(rk);
  rd_kafka_CreateTopics(rk, &nt, 1, nullptr, q);
  rd_kafka_event_t* ev = rd_kafka_queue_poll(q, 30000);
  if (ev == nullptr) Die("CreateTopics timed out");
  const rd_kafka_CreateTopics_result_t* res = rd_kafka_event_CreateTopics_result(ev);
  size_t n = 0;
  const rd_kafka_topic_result_t** results = rd_kafka_CreateTopics_result_topics(res, &n);
  if (rd_kafka_event_error(ev) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    Die(std::string("CreateTopics: ") + rd_kafka_event_error_string(ev));
  }
  for (size_t i = 0; i < n; ++i) {
    rd_kafka_resp_err_t err = rd_kafka_topic_result_error(results[i]);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR && err != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
      Die(std::string("CreateTopics: ") + rd_kafka_err2str(err));
    }
  }
  rd_kafka_event_destroy(ev);
  rd_kafka_NewTopic_destroy(nt);
  rd_kafka_queue_destroy(q);
  rd_kafka_destroy(rk);
}

void Report(const char* phase, int64_t msgs, int64_t bytes, double secs,
            std::vector<double>* latency) {
  std::printf("%s msgs=%lld secs=%.3f msgs_per_s=%.0f mb_per_s=%.2f", phase,
              static_cast<long long>(msgs), secs, static_cast<double>(msgs) / secs,
              static_cast<double>(bytes) / secs / 1e6);
  if (latency != nullptr) {
    std::sort(latency->begin(), latency->end());
    std::printf(" p50_ms=%.3f p99_ms=%.3f p999_ms=%.3f", Percentile(*latency, 0.50),
                Percentile(*latency, 0.99), Percentile(*latency, 0.999));
  }
  std::printf("\n");
  std::fflush(stdout);
}

void Produce(const Options& o, const std::string& bootstrap) {
  ProduceState st;
  st.sent.resize(static_cast<size_t>(o.count));
  st.latency_ms.reserve(static_cast<size_t>(o.count));
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  Set(conf, "bootstrap.servers", bootstrap);
  Set(conf, "acks", o.acks);
  Set(conf, "linger.ms", std::to_string(o.linger_ms));
  Set(conf, "batch.size", std::to_string(o.batch_bytes));
  Set(conf, "compression.type", o.compression);
  Set(conf, "queue.buffering.max.messages", "2000000");
  Set(conf, "queue.buffering.max.kbytes", "2097151");
  rd_kafka_conf_set_dr_msg_cb(conf, OnDelivery);
  rd_kafka_conf_set_opaque(conf, &st);
  rd_kafka_t* rk = NewClient(RD_KAFKA_PRODUCER, conf);
  rd_kafka_topic_t* rkt = rd_kafka_topic_new(rk, o.topic.c_str(), nullptr);

  std::vector<char> payload(static_cast<size_t>(o.size), 'x');
  const Clock::time_point start = Clock::now();
  const Clock::time_point deadline = start + std::chrono::duration_cast<Clock::duration>(
                                                 std::chrono::duration<double>(o.timeout_s));
  for (int64_t i = 0; i < o.count; ++i) {
    if (o.rate > 0) {
      auto due = start + std::chrono::nanoseconds(i * 1000000000LL / o.rate);
      while (Clock::now() < due) {
        rd_kafka_poll(rk, 0);
        std::this_thread::sleep_until(std::min(due, Clock::now() + std::chrono::microseconds(200)));
      }
    }
    st.sent[static_cast<size_t>(i)] = Clock::now();
    char key[16];
    int key_len = std::snprintf(key, sizeof key, "k%lld", static_cast<long long>(i % 1024));
    while (rd_kafka_produce(rkt, RD_KAFKA_PARTITION_UA, RD_KAFKA_MSG_F_COPY, payload.data(),
                            payload.size(), key, static_cast<size_t>(key_len),
                            reinterpret_cast<void*>(static_cast<uintptr_t>(i))) != 0) {
      if (rd_kafka_last_error() != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
        Die(std::string("produce: ") + rd_kafka_err2str(rd_kafka_last_error()));
      }
      rd_kafka_poll(rk, 1);
    }
    rd_kafka_poll(rk, 0);
    if (Clock::now() > deadline) Die("produce phase timed out");
  }
  while (st.delivered + st.failed < o.count && Clock::now() < deadline) rd_kafka_poll(rk, 10);
  const double secs = Seconds(Clock::now() - start);
  if (st.failed > 0) Die("produce: " + std::to_string(st.failed) + " failed: " + st.first_error);
  if (st.delivered < o.count) Die("produce phase timed out waiting for delivery reports");
  Report("produce", st.delivered, st.delivered * o.size, secs, &st.latency_ms);
  rd_kafka_topic_destroy(rkt);
  rd_kafka_destroy(rk);
}

// Reads every partition from its start until `count` messages arrived or every partition
// is at its end (the mock cluster keeps only the newest few MB of each partition). The
// rate is timed from the first message to the last, so connection set-up is not in it.
void Consume(const Options& o, const std::string& bootstrap) {
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  Set(conf, "bootstrap.servers", bootstrap);
  Set(conf, "group.id", "fjord-load");
  Set(conf, "enable.auto.commit", "false");
  Set(conf, "enable.partition.eof", "true");
  rd_kafka_t* rk = NewClient(RD_KAFKA_CONSUMER, conf);
  rd_kafka_poll_set_consumer(rk);
  rd_kafka_topic_partition_list_t* parts = rd_kafka_topic_partition_list_new(o.partitions);
  for (int p = 0; p < o.partitions; ++p) {
    rd_kafka_topic_partition_list_add(parts, o.topic.c_str(), p)->offset =
        RD_KAFKA_OFFSET_BEGINNING;
  }
  if (rd_kafka_assign(rk, parts) != RD_KAFKA_RESP_ERR_NO_ERROR) Die("assign failed");
  int64_t msgs = 0;
  int64_t bytes = 0;
  std::vector<bool> at_end(static_cast<size_t>(o.partitions), false);
  int ended = 0;
  Clock::time_point first{};
  Clock::time_point last{};
  const Clock::time_point deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                                        std::chrono::duration<double>(o.timeout_s));
  while (msgs < o.count && ended < o.partitions && Clock::now() < deadline) {
    rd_kafka_message_t* m = rd_kafka_consumer_poll(rk, 100);
    if (m == nullptr) continue;
    if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      last = Clock::now();
      if (msgs++ == 0) first = last;
      bytes += static_cast<int64_t>(m->len);
    } else if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
      auto p = static_cast<size_t>(m->partition);
      if (msgs > 0 && p < at_end.size() && !at_end[p]) {
        at_end[p] = true;
        ++ended;
      }
    } else {
      Die(std::string("consume: ") + rd_kafka_message_errstr(m));
    }
    rd_kafka_message_destroy(m);
  }
  if (msgs < 2) Die("consume: fewer than two messages read before the deadline");
  if (msgs < o.count && ended < o.partitions) {
    Die("consume phase timed out after " + std::to_string(msgs) + " messages");
  }
  Report("consume", msgs, bytes, Seconds(last - first), nullptr);
  rd_kafka_topic_partition_list_destroy(parts);
  rd_kafka_consumer_close(rk);
  rd_kafka_destroy(rk);
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  CLI::App app{"fjord_load: produce and consume load on librdkafka"};
  app.add_option("--brokers", o.brokers, "bootstrap servers of the broker under test");
  app.add_flag("--mock", o.mock, "run against librdkafka's in-process mock cluster instead");
  app.add_option("--topic", o.topic, "topic (default: a fresh name)");
  app.add_option("--size", o.size, "message value bytes")->check(CLI::Range(0, 100 << 20));
  app.add_option("--count", o.count, "messages")->check(CLI::Range(int64_t{1}, int64_t{50000000}));
  app.add_option("--partitions", o.partitions, "partitions")->check(CLI::Range(1, 10000));
  app.add_option("--acks", o.acks, "0, 1 or all")->check(CLI::IsMember({"0", "1", "all", "-1"}));
  app.add_option("--rate", o.rate, "messages per second (0 = unpaced)");
  app.add_option("--linger-ms", o.linger_ms, "producer linger.ms");
  app.add_option("--batch-bytes", o.batch_bytes, "producer batch.size");
  app.add_option("--compression", o.compression, "none, gzip, snappy, lz4 or zstd");
  app.add_option("--timeout", o.timeout_s, "seconds each phase may take");
  bool produce_only = false;
  bool consume_only = false;
  app.add_flag("--produce-only", produce_only, "skip the consume phase");
  app.add_flag("--consume-only", consume_only, "only consume (an existing topic)");
  CLI11_PARSE(app, argc, argv);
  if (o.mock == !o.brokers.empty()) Die("give exactly one of --brokers and --mock");
  o.produce = !consume_only;
  o.consume = !produce_only;
  if (o.topic.empty()) {
    o.topic = "load-" + std::to_string(std::chrono::system_clock::now().time_since_epoch().count());
  }

  rd_kafka_t* mock_owner = nullptr;
  rd_kafka_mock_cluster_t* mock = nullptr;
  std::string bootstrap = o.brokers;
  if (o.mock) {
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    mock_owner = NewClient(RD_KAFKA_PRODUCER, conf);
    mock = rd_kafka_mock_cluster_new(mock_owner, 1);
    if (mock == nullptr) Die("rd_kafka_mock_cluster_new failed");
    bootstrap = rd_kafka_mock_cluster_bootstraps(mock);
    if (rd_kafka_mock_topic_create(mock, o.topic.c_str(), o.partitions, 1) !=
        RD_KAFKA_RESP_ERR_NO_ERROR) {
      Die("mock topic creation failed");
    }
  } else if (o.produce) {
    CreateTopic(o, bootstrap);
  }
  std::printf("target=%s size=%d count=%lld partitions=%d acks=%s rate=%lld linger_ms=%d\n",
              o.mock ? "mock" : bootstrap.c_str(), o.size, static_cast<long long>(o.count),
              o.partitions, o.acks.c_str(), static_cast<long long>(o.rate), o.linger_ms);
  if (o.produce) Produce(o, bootstrap);
  if (o.consume) Consume(o, bootstrap);
  if (mock != nullptr) rd_kafka_mock_cluster_destroy(mock);
  if (mock_owner != nullptr) rd_kafka_destroy(mock_owner);
  return 0;
}
