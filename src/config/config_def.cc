// The registry tables and value validation. Names, types, defaults and ranges are Apache
// Kafka 4.x's; where Fjord's default differs (an embedded single node that runs with no
// config file) the doc line says so. Fjord-only settings say so too.

#include "fjord/config/config_def.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "fjord/base/strings.h"

namespace fjord::config {

namespace {

using T = ConfigType;
constexpr std::nullopt_t kNull = std::nullopt;
constexpr double kIntMax = 2147483647.0;
#define FJORD_LONG_MAX "9223372036854775807"
#define FJORD_INT_MAX "2147483647"

constexpr std::string_view kTimestampTypes[] = {"CreateTime", "LogAppendTime"};
constexpr std::string_view kCleanupPolicies[] = {"delete", "compact"};
constexpr std::string_view kBrokerCompression[] = {"uncompressed", "zstd", "lz4",
                                                   "snappy",       "gzip", "producer"};
constexpr std::string_view kProcessRoles[] = {"broker", "controller"};
constexpr std::string_view kLogLevels[] = {"trace", "debug",    "info", "warn",
                                           "error", "critical", "off"};
constexpr std::string_view kProtocols[] = {"PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"};
constexpr std::span<const std::string_view> kAny{};

// Topic configs; the default is the default of the first broker synonym (or the topic's
// own when it has none).
const ConfigDef kTopic[] = {
    {"cleanup.policy", T::kList, "delete", kNull, kNull, kCleanupPolicies,
     "delete old segments, compact by key, or both", false, false, "log.cleanup.policy"},
    {"compression.type", T::kString, "producer", kNull, kNull, kBrokerCompression,
     "codec batches are stored with; producer keeps the producer's", false, false,
     "compression.type"},
    {"compression.gzip.level", T::kInt, "-1", -1, 9, kAny, "gzip level when recompressing", false,
     false, "compression.gzip.level"},
    {"compression.lz4.level", T::kInt, "9", 1, 17, kAny, "lz4 level when recompressing", false,
     false, "compression.lz4.level"},
    {"compression.zstd.level", T::kInt, "3", -131072, 22, kAny, "zstd level when recompressing",
     false, false, "compression.zstd.level"},
    {"delete.retention.ms", T::kLong, "86400000", 0, kNull, kAny,
     "how long delete tombstones stay in a compacted topic", false, false,
     "log.cleaner.delete.retention.ms"},
    {"file.delete.delay.ms", T::kLong, "60000", 0, kNull, kAny,
     "delay before a deleted segment's files are removed", false, false,
     "log.segment.delete.delay.ms"},
    {"flush.messages", T::kLong, FJORD_LONG_MAX, 1, kNull, kAny,
     "fsync after this many appended messages", false, false, "log.flush.interval.messages"},
    {"flush.ms", T::kLong, FJORD_LONG_MAX, 0, kNull, kAny,
     "fsync when this long has passed since the last fsync", false, false, "log.flush.interval.ms"},
    {"follower.replication.throttled.replicas", T::kList, "", kNull, kNull, kAny,
     "replicas throttled on the follower side (partition:broker,...)", false, false, ""},
    {"index.interval.bytes", T::kInt, "4096", 0, kNull, kAny,
     "bytes of log between two offset-index entries", false, false, "log.index.interval.bytes"},
    {"leader.replication.throttled.replicas", T::kList, "", kNull, kNull, kAny,
     "replicas throttled on the leader side (partition:broker,...)", false, false, ""},
    {"local.retention.bytes", T::kLong, "-2", -2, kNull, kAny,
     "local bytes kept when tiered storage is on (-2 = retention.bytes)", false, false,
     "log.local.retention.bytes"},
    {"local.retention.ms", T::kLong, "-2", -2, kNull, kAny,
     "local time kept when tiered storage is on (-2 = retention.ms)", false, false,
     "log.local.retention.ms"},
    {"max.compaction.lag.ms", T::kLong, FJORD_LONG_MAX, 1, kNull, kAny,
     "longest a message stays uncompacted", false, false, "log.cleaner.max.compaction.lag.ms"},
    {"max.message.bytes", T::kInt, "1048588", 0, kNull, kAny,
     "largest record batch accepted, after compression", false, false, "message.max.bytes"},
    {"message.timestamp.after.max.ms", T::kLong, "3600000", 0, kNull, kAny,
     "how far in the future a CreateTime timestamp may be", false, false,
     "log.message.timestamp.after.max.ms"},
    {"message.timestamp.before.max.ms", T::kLong, FJORD_LONG_MAX, 0, kNull, kAny,
     "how far in the past a CreateTime timestamp may be", false, false,
     "log.message.timestamp.before.max.ms"},
    {"message.timestamp.type", T::kString, "CreateTime", kNull, kNull, kTimestampTypes,
     "record timestamps: the producer's or the broker's append time", false, false,
     "log.message.timestamp.type"},
    {"min.cleanable.dirty.ratio", T::kDouble, "0.5", 0, 1, kAny,
     "dirty share of the log that makes it eligible for compaction", false, false,
     "log.cleaner.min.cleanable.ratio"},
    {"min.compaction.lag.ms", T::kLong, "0", 0, kNull, kAny, "shortest a message stays uncompacted",
     false, false, "log.cleaner.min.compaction.lag.ms"},
    {"min.insync.replicas", T::kInt, "1", 1, kNull, kAny,
     "in-sync replicas an acks=all write needs", false, false, "min.insync.replicas"},
    {"preallocate", T::kBoolean, "false", kNull, kNull, kAny,
     "preallocate segment files when rolling", false, false, "log.preallocate"},
    {"remote.storage.enable", T::kBoolean, "false", kNull, kNull, kAny,
     "tier old segments to remote storage", false, false, ""},
    {"retention.bytes", T::kLong, "-1", kNull, kNull, kAny,
     "largest size of a partition before old segments go (-1 = no limit)", false, false,
     "log.retention.bytes"},
    {"retention.ms", T::kLong, "604800000", -1, kNull, kAny,
     "how long segments are kept (-1 = forever)", false, false,
     "log.retention.ms,log.retention.minutes,log.retention.hours"},
    {"segment.bytes", T::kInt, "1073741824", 14, kNull, kAny, "size at which a segment rolls",
     false, false, "log.segment.bytes"},
    {"segment.index.bytes", T::kInt, "10485760", 4, kNull, kAny,
     "size of a segment's offset and time indexes", false, false, "log.index.size.max.bytes"},
    {"segment.jitter.ms", T::kLong, "0", 0, kNull, kAny, "random jitter subtracted from segment.ms",
     false, false, "log.roll.jitter.ms,log.roll.jitter.hours"},
    {"segment.ms", T::kLong, "604800000", 1, kNull, kAny,
     "time after which a segment rolls even if not full", false, false,
     "log.roll.ms,log.roll.hours"},
    {"unclean.leader.election.enable", T::kBoolean, "false", kNull, kNull, kAny,
     "allow an out-of-sync replica to become leader (may lose data)", false, false,
     "unclean.leader.election.enable"},
};

// Broker settings. read_only = static (set in the file or with --set, not at run time).
const ConfigDef kBroker[] = {
    // Node identity and roles.
    {"node.id", T::kInt, "1", 0, kIntMax, kAny,
     "this node's id (Kafka's default -1 requires one; Fjord's embedded node is 1)", true, false,
     ""},
    {"process.roles", T::kList, "broker,controller", kNull, kNull, kProcessRoles,
     "roles of this node (Fjord: a combined node)", true, false, ""},
    {"controller.quorum.voters", T::kList, "", kNull, kNull, kAny,
     "static metadata quorum voters id@host:port (empty = this node alone)", true, false, ""},
    {"controller.quorum.bootstrap.servers", T::kList, "", kNull, kNull, kAny,
     "metadata quorum endpoints to bootstrap from", true, false, ""},
    {"controller.listener.names", T::kList, "", kNull, kNull, kAny,
     "listeners used by the controller (empty: the combined node's listeners)", true, false, ""},
    {"broker.rack", T::kString, kNull, kNull, kNull, kAny, "rack of this broker", true, false, ""},
    // Listeners.
    {"listeners", T::kList, "PLAINTEXT://127.0.0.1:9092", kNull, kNull, kAny,
     "NAME://host:port to listen on (Fjord's default binds loopback only)", true, false, ""},
    {"advertised.listeners", T::kList, kNull, kNull, kNull, kAny,
     "NAME://host:port given to clients (null = the listeners)", true, false, ""},
    {"listener.security.protocol.map", T::kString,
     "SASL_SSL:SASL_SSL,PLAINTEXT:PLAINTEXT,SSL:SSL,SASL_PLAINTEXT:SASL_PLAINTEXT", kNull, kNull,
     kAny, "listener name to security protocol", true, false, ""},
    {"inter.broker.listener.name", T::kString, kNull, kNull, kNull, kAny,
     "listener brokers use between themselves", true, false, ""},
    {"security.inter.broker.protocol", T::kString, "PLAINTEXT", kNull, kNull, kProtocols,
     "protocol brokers use between themselves", true, false, ""},
    // Network.
    {"socket.request.max.bytes", T::kInt, "104857600", 1, kNull, kAny,
     "largest request frame accepted; a larger one closes the connection", true, false, ""},
    {"socket.send.buffer.bytes", T::kInt, "-1", -1, kNull, kAny,
     "SO_SNDBUF of connections (-1 = the OS default, autotuned; Kafka: 102400)", true, false, ""},
    {"socket.receive.buffer.bytes", T::kInt, "-1", -1, kNull, kAny,
     "SO_RCVBUF of connections (-1 = the OS default, autotuned; Kafka: 102400)", true, false, ""},
    {"connections.max.idle.ms", T::kLong, "600000", kNull, kNull, kAny,
     "close connections idle this long", true, false, ""},
    {"queued.max.requests", T::kInt, "500", 1, kNull, kAny,
     "requests in flight per connection before reading pauses", true, false, ""},
    {"queued.max.request.bytes", T::kLong, "-1", kNull, kNull, kAny,
     "request bytes in flight over all connections before reading pauses (Kafka's memory "
     "pool; -1 = no broker-wide bound; each connection is bounded at twice "
     "socket.request.max.bytes either way)",
     true, false, ""},
    {"max.connections", T::kInt, FJORD_INT_MAX, 0, kNull, kAny,
     "connections the broker accepts in total", false, false, ""},
    {"max.connections.per.ip", T::kInt, FJORD_INT_MAX, 0, kNull, kAny,
     "connections accepted from one address", false, false, ""},
    {"max.partitions.per.request", T::kInt, "10000", 1, 1000000, kAny,
     "Fjord only: partitions one CreateTopics or CreatePartitions may create in all "
     "(Kafka's fixed limit is 10000); more is POLICY_VIOLATION",
     true, false, ""},
    {"max.broker.partitions", T::kInt, "100000", 1, kNull, kAny,
     "partition replicas one broker may host (KIP-578); a request that would place more is "
     "POLICY_VIOLATION",
     true, false, ""},
    {"num.event.loop.threads", T::kInt, "0", 0, 1024, kAny,
     "Fjord only: event loops, one per core (0 = number of cores)", true, false, ""},
    {"num.io.threads", T::kInt, "8", 1, 1024, kAny,
     "threads for request work kept off the event loops: validating compressed or large "
     "produce batches and the fsyncs of flush.messages",
     true, false, ""},
    // Topics.
    {"num.partitions", T::kInt, "1", 1, kNull, kAny, "partitions of a topic created by default",
     false, false, ""},
    {"default.replication.factor", T::kInt, "1", 1, kNull, kAny,
     "replication factor of a topic created by default", false, false, ""},
    {"auto.create.topics.enable", T::kBoolean, "true", kNull, kNull, kAny,
     "create a topic when Metadata asks for a missing one", true, false, ""},
    {"delete.topic.enable", T::kBoolean, "true", kNull, kNull, kAny, "allow DeleteTopics", true,
     false, ""},
    {"min.insync.replicas", T::kInt, "1", 1, kNull, kAny,
     "in-sync replicas an acks=all write needs", false, false, ""},
    {"unclean.leader.election.enable", T::kBoolean, "false", kNull, kNull, kAny,
     "allow an out-of-sync replica to become leader", false, false, ""},
    {"message.max.bytes", T::kInt, "1048588", 0, kNull, kAny,
     "largest record batch accepted, after compression", false, false, ""},
    {"compression.type", T::kString, "producer", kNull, kNull, kBrokerCompression,
     "codec batches are stored with", false, false, ""},
    {"compression.gzip.level", T::kInt, "-1", -1, 9, kAny, "gzip level when recompressing", false,
     false, ""},
    {"compression.lz4.level", T::kInt, "9", 1, 17, kAny, "lz4 level when recompressing", false,
     false, ""},
    {"compression.zstd.level", T::kInt, "3", -131072, 22, kAny, "zstd level when recompressing",
     false, false, ""},
    // Storage.
    {"log.dir", T::kString, "./data", kNull, kNull, kAny,
     "data directory when log.dirs is not set (Kafka: /tmp/kafka-logs)", true, false, ""},
    {"log.dirs", T::kList, kNull, kNull, kNull, kAny, "data directories (null = log.dir)", true,
     false, ""},
    {"metadata.log.dir", T::kString, kNull, kNull, kNull, kAny,
     "directory of the metadata log (null = the first data directory)", true, false, ""},
    {"num.recovery.threads.per.data.dir", T::kInt, "2", 1, kNull, kAny,
     "threads loading and recovering logs per data directory", true, false, ""},
    {"log.segment.bytes", T::kInt, "1073741824", 14, kNull, kAny, "size at which a segment rolls",
     false, false, ""},
    {"log.roll.ms", T::kLong, kNull, 1, kNull, kAny,
     "time after which a segment rolls (null = log.roll.hours)", false, false, ""},
    {"log.roll.hours", T::kInt, "168", 1, kNull, kAny, "log.roll.ms in hours", true, false, ""},
    {"log.roll.jitter.ms", T::kLong, kNull, 0, kNull, kAny,
     "jitter subtracted from the roll time (null = log.roll.jitter.hours)", false, false, ""},
    {"log.roll.jitter.hours", T::kInt, "0", 0, kNull, kAny, "log.roll.jitter.ms in hours", true,
     false, ""},
    {"log.retention.ms", T::kLong, kNull, -1, kNull, kAny,
     "how long segments are kept (null = log.retention.minutes; -1 = forever)", false, false, ""},
    {"log.retention.minutes", T::kInt, kNull, kNull, kNull, kAny,
     "log.retention.ms in minutes (null = log.retention.hours)", true, false, ""},
    {"log.retention.hours", T::kInt, "168", kNull, kNull, kAny, "log.retention.ms in hours", true,
     false, ""},
    {"log.retention.bytes", T::kLong, "-1", kNull, kNull, kAny,
     "largest size of a partition before old segments go (-1 = no limit)", false, false, ""},
    {"log.retention.check.interval.ms", T::kLong, "300000", 1, kNull, kAny,
     "how often retention runs", true, false, ""},
    {"log.segment.delete.delay.ms", T::kLong, "60000", 0, kNull, kAny,
     "delay before a deleted segment's files are removed", false, false, ""},
    {"log.index.size.max.bytes", T::kInt, "10485760", 4, kNull, kAny,
     "size of a segment's offset and time indexes", false, false, ""},
    {"log.index.interval.bytes", T::kInt, "4096", 0, kNull, kAny,
     "bytes of log between two offset-index entries", false, false, ""},
    {"log.flush.interval.messages", T::kLong, FJORD_LONG_MAX, 1, kNull, kAny,
     "fsync after this many appended messages", false, false, ""},
    {"log.flush.interval.ms", T::kLong, kNull, kNull, kNull, kAny,
     "fsync when this long has passed since the last fsync (null = never by time)", false, false,
     ""},
    {"log.flush.scheduler.interval.ms", T::kLong, "1000", 1, kNull, kAny,
     "how often the time-based flush policy is checked (Kafka: Long.MAX; Fjord checks each "
     "second)",
     true, false, ""},
    {"log.flush.offset.checkpoint.interval.ms", T::kInt, "60000", 0, kNull, kAny,
     "how often recovery points are checkpointed", true, false, ""},
    {"log.flush.start.offset.checkpoint.interval.ms", T::kInt, "60000", 0, kNull, kAny,
     "how often log start offsets are checkpointed", true, false, ""},
    {"log.message.timestamp.type", T::kString, "CreateTime", kNull, kNull, kTimestampTypes,
     "record timestamps: the producer's or the broker's append time", false, false, ""},
    {"log.message.timestamp.before.max.ms", T::kLong, FJORD_LONG_MAX, 0, kNull, kAny,
     "how far in the past a CreateTime timestamp may be", false, false, ""},
    {"log.message.timestamp.after.max.ms", T::kLong, "3600000", 0, kNull, kAny,
     "how far in the future a CreateTime timestamp may be", false, false, ""},
    {"log.cleanup.policy", T::kList, "delete", kNull, kNull, kCleanupPolicies,
     "delete old segments, compact by key, or both", false, false, ""},
    {"log.preallocate", T::kBoolean, "false", kNull, kNull, kAny,
     "preallocate segment files when rolling", false, false, ""},
    {"log.cleaner.enable", T::kBoolean, "true", kNull, kNull, kAny, "run the log cleaner", true,
     false, ""},
    {"log.cleaner.threads", T::kInt, "1", 0, kNull, kAny, "log cleaner threads", false, false, ""},
    {"log.cleaner.backoff.ms", T::kLong, "15000", 0, kNull, kAny,
     "cleaner sleep when there is nothing to clean", false, false, ""},
    {"log.cleaner.dedupe.buffer.size", T::kLong, "134217728", kNull, kNull, kAny,
     "memory for the cleaner's key map", false, false, ""},
    {"log.cleaner.delete.retention.ms", T::kLong, "86400000", 0, kNull, kAny,
     "how long delete tombstones stay in a compacted topic", false, false, ""},
    {"log.cleaner.min.cleanable.ratio", T::kDouble, "0.5", 0, 1, kAny,
     "dirty share of the log that makes it eligible for compaction", false, false, ""},
    {"log.cleaner.min.compaction.lag.ms", T::kLong, "0", 0, kNull, kAny,
     "shortest a message stays uncompacted", false, false, ""},
    {"log.cleaner.max.compaction.lag.ms", T::kLong, FJORD_LONG_MAX, 1, kNull, kAny,
     "longest a message stays uncompacted", false, false, ""},
    {"log.local.retention.ms", T::kLong, "-2", -2, kNull, kAny,
     "local time kept when tiered storage is on (-2 = retention)", false, false, ""},
    {"log.local.retention.bytes", T::kLong, "-2", -2, kNull, kAny,
     "local bytes kept when tiered storage is on (-2 = retention)", false, false, ""},
    {"remote.log.storage.system.enable", T::kBoolean, "false", kNull, kNull, kAny,
     "enable tiered storage on this broker", true, false, ""},
    // Replication.
    {"replica.lag.time.max.ms", T::kLong, "30000", kNull, kNull, kAny,
     "a follower this far behind leaves the ISR", true, false, ""},
    {"replica.fetch.max.bytes", T::kInt, "1048576", 0, kNull, kAny,
     "bytes per partition a follower fetches", true, false, ""},
    {"replica.fetch.min.bytes", T::kInt, "1", kNull, kNull, kAny,
     "bytes a follower fetch waits for", true, false, ""},
    {"replica.fetch.wait.max.ms", T::kInt, "500", kNull, kNull, kAny,
     "longest a follower fetch waits", true, false, ""},
    {"replica.fetch.response.max.bytes", T::kInt, "10485760", 0, kNull, kAny,
     "bytes a follower fetch returns in total", true, false, ""},
    {"replica.socket.timeout.ms", T::kInt, "30000", kNull, kNull, kAny,
     "socket timeout of follower fetches", true, false, ""},
    {"replica.high.watermark.checkpoint.interval.ms", T::kLong, "5000", kNull, kNull, kAny,
     "how often high watermarks are checkpointed", true, false, ""},
    {"num.replica.fetchers", T::kInt, "1", kNull, kNull, kAny, "fetcher threads per source broker",
     false, false, ""},
    {"fetch.max.bytes", T::kInt, "57671680", 1024, kNull, kAny,
     "bytes a consumer's Fetch response returns in total", false, false, ""},
    {"max.incremental.fetch.session.cache.slots", T::kInt, "1000", 0, kNull, kAny,
     "incremental fetch sessions (KIP-227) the broker keeps", true, false, ""},
    // Consumer groups.
    {"group.initial.rebalance.delay.ms", T::kInt, "3000", kNull, kNull, kAny,
     "wait for more members before the first rebalance of a new group", true, false, ""},
    {"group.min.session.timeout.ms", T::kInt, "6000", kNull, kNull, kAny,
     "shortest session timeout a member may ask for", true, false, ""},
    {"group.max.session.timeout.ms", T::kInt, "1800000", kNull, kNull, kAny,
     "longest session timeout a member may ask for", true, false, ""},
    {"group.max.size", T::kInt, FJORD_INT_MAX, 1, kNull, kAny, "members a group may have", true,
     false, ""},
    {"offsets.topic.num.partitions", T::kInt, "50", 1, kNull, kAny,
     "partitions of __consumer_offsets", true, false, ""},
    {"offsets.topic.replication.factor", T::kShort, "3", 1, kNull, kAny,
     "replication factor of __consumer_offsets", true, false, ""},
    {"offsets.topic.segment.bytes", T::kInt, "104857600", 1, kNull, kAny,
     "segment size of __consumer_offsets", true, false, ""},
    {"offsets.retention.minutes", T::kInt, "10080", 1, kNull, kAny,
     "how long committed offsets of an empty group are kept", true, false, ""},
    {"offsets.retention.check.interval.ms", T::kLong, "600000", 1, kNull, kAny,
     "how often stale offsets are looked for", true, false, ""},
    {"offsets.commit.timeout.ms", T::kInt, "5000", 1, kNull, kAny,
     "longest an offset commit waits for replication", true, false, ""},
    {"offsets.load.buffer.size", T::kInt, "5242880", 1, kNull, kAny,
     "read size when loading group state", true, false, ""},
    {"offset.metadata.max.bytes", T::kInt, "4096", kNull, kNull, kAny,
     "largest metadata string of a committed offset", true, false, ""},
    // Transactions and producer ids.
    {"transaction.state.log.num.partitions", T::kInt, "50", 1, kNull, kAny,
     "partitions of __transaction_state", true, false, ""},
    {"transaction.state.log.replication.factor", T::kShort, "3", 1, kNull, kAny,
     "replication factor of __transaction_state", true, false, ""},
    {"transaction.state.log.min.isr", T::kInt, "2", 1, kNull, kAny,
     "min.insync.replicas of __transaction_state", true, false, ""},
    {"transaction.state.log.segment.bytes", T::kInt, "104857600", 1, kNull, kAny,
     "segment size of __transaction_state", true, false, ""},
    {"transaction.state.log.load.buffer.size", T::kInt, "5242880", 1, kNull, kAny,
     "read size when loading transaction state", true, false, ""},
    {"transaction.max.timeout.ms", T::kInt, "900000", 1, kNull, kAny,
     "longest transaction timeout a producer may ask for", true, false, ""},
    {"transaction.abort.timed.out.transaction.cleanup.interval.ms", T::kInt, "10000", 1, kNull,
     kAny, "how often timed-out transactions are aborted", true, false, ""},
    {"transaction.remove.expired.transaction.cleanup.interval.ms", T::kInt, "3600000", 1, kNull,
     kAny, "how often expired transactional ids are removed", true, false, ""},
    {"transactional.id.expiration.ms", T::kInt, "604800000", 1, kNull, kAny,
     "a transactional id unused this long expires", false, false, ""},
    {"transaction.partition.verification.enable", T::kBoolean, "true", kNull, kNull, kAny,
     "verify a producer's first transactional batch in a partition with its coordinator", false,
     false, ""},
    {"producer.id.expiration.ms", T::kInt, "86400000", 1, kNull, kAny,
     "an idle producer id's state is dropped after this long", false, false, ""},
    {"producer.id.expiration.check.interval.ms", T::kInt, "600000", 1, kNull, kAny,
     "how often idle producer ids are looked for", true, false, ""},
    // Operations (Fjord only).
    {"logging.level", T::kString, "info", kNull, kNull, kLogLevels,
     "Fjord only: log level of the broker's log on stderr", true, false, ""},
    {"logging.pattern", T::kString, "[%Y-%m-%d %H:%M:%S.%e] [%^%l%$] [%n] %v", kNull, kNull, kAny,
     "Fjord only: spdlog pattern of each log line", true, false, ""},
    {"shutdown.timeout.ms", T::kLong, "30000", 0, kNull, kAny,
     "Fjord only: bound on a graceful stop (SIGTERM/SIGINT)", true, false, ""},
};

template <size_t N>
const ConfigDef* Find(const ConfigDef (&table)[N], std::string_view name) {
  for (const ConfigDef& d : table) {
    if (d.name == name) return &d;
  }
  return nullptr;
}

std::string Range(const ConfigDef& def) {
  auto num = [](double v) {
    return v == std::floor(v) ? absl::StrCat(static_cast<int64_t>(v)) : absl::StrCat(v);
  };
  if (def.min && def.max) return absl::StrCat(" in [", num(*def.min), ", ", num(*def.max), "]");
  if (def.min) return absl::StrCat(" >= ", num(*def.min));
  if (def.max) return absl::StrCat(" <= ", num(*def.max));
  return "";
}

absl::Status Invalid(const ConfigDef& def, std::string_view value, std::string_view expected) {
  return absl::InvalidArgumentError(absl::StrCat("invalid value '", Absl(value), "' for ",
                                                 Absl(def.name), ": expected ", Absl(expected)));
}

bool Allowed(const ConfigDef& def, std::string_view item) {
  if (def.allowed.empty()) return true;
  return std::find(def.allowed.begin(), def.allowed.end(), item) != def.allowed.end();
}

}  // namespace

std::span<const ConfigDef> BrokerConfigDefs() { return kBroker; }
std::span<const ConfigDef> TopicConfigDefs() { return kTopic; }
const ConfigDef* FindBrokerConfig(std::string_view name) { return Find(kBroker, name); }
const ConfigDef* FindTopicConfig(std::string_view name) { return Find(kTopic, name); }

std::string_view ConfigTypeName(ConfigType type) {
  switch (type) {
    case T::kBoolean:
      return "boolean";
    case T::kString:
      return "string";
    case T::kInt:
      return "int";
    case T::kShort:
      return "short";
    case T::kLong:
      return "long";
    case T::kDouble:
      return "double";
    case T::kList:
      return "list";
    case T::kClass:
      return "class";
    case T::kPassword:
      return "password";
    case T::kUnknown:
      break;
  }
  return "unknown";
}

std::optional<bool> ParseBool(std::string_view value) {
  std::string v = absl::AsciiStrToLower(absl::StripAsciiWhitespace(Absl(value)));
  if (v == "true") return true;
  if (v == "false") return false;
  return std::nullopt;
}

std::optional<int64_t> ParseInteger(std::string_view value) {
  int64_t v = 0;
  if (!absl::SimpleAtoi(Absl(value), &v)) return std::nullopt;
  return v;
}

std::optional<double> ParseDouble(std::string_view value) {
  double v = 0;
  if (!absl::SimpleAtod(Absl(value), &v) || !std::isfinite(v)) {
    return std::nullopt;
  }
  return v;
}

absl::Status ValidateValue(const ConfigDef& def, std::string_view value) {
  switch (def.type) {
    case T::kBoolean:
      if (!ParseBool(value)) return Invalid(def, value, "true or false");
      return absl::OkStatus();
    case T::kShort:
    case T::kInt:
    case T::kLong: {
      const char* what = def.type == T::kLong  ? "a long integer"
                         : def.type == T::kInt ? "an integer"
                                               : "a short integer";
      std::optional<int64_t> v = ParseInteger(value);
      const double lo = def.type == T::kShort ? -32768.0
                        : def.type == T::kInt ? -2147483648.0
                                              : -9.3e18;
      const double hi = def.type == T::kShort ? 32767.0 : def.type == T::kInt ? kIntMax : 9.3e18;
      if (!v || static_cast<double>(*v) < lo || static_cast<double>(*v) > hi ||
          (def.min && static_cast<double>(*v) < *def.min) ||
          (def.max && static_cast<double>(*v) > *def.max)) {
        return Invalid(def, value, absl::StrCat(what, Range(def)));
      }
      return absl::OkStatus();
    }
    case T::kDouble: {
      std::optional<double> v = ParseDouble(value);
      if (!v || (def.min && *v < *def.min) || (def.max && *v > *def.max)) {
        return Invalid(def, value, absl::StrCat("a number", Range(def)));
      }
      return absl::OkStatus();
    }
    case T::kList:
      for (absl::string_view item : absl::StrSplit(Absl(value), ',', absl::SkipWhitespace())) {
        absl::string_view trimmed = absl::StripAsciiWhitespace(item);
        if (!Allowed(def, Std(trimmed))) {
          return Invalid(def, value,
                         absl::StrCat("a comma-separated list of: ",
                                      absl::StrJoin(def.allowed, ", ", StdViewFormatter())));
        }
      }
      return absl::OkStatus();
    default:
      if (!Allowed(def, value)) {
        return Invalid(
            def, value,
            absl::StrCat("one of: ", absl::StrJoin(def.allowed, ", ", StdViewFormatter())));
      }
      return absl::OkStatus();
  }
}

}  // namespace fjord::config
