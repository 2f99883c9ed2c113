// Every field of a RecordBatch v2 and of its records, as a client sends them in Produce
// (v3+), set wrong one at a time. Each case asserts Kafka's per-partition error (its
// ProduceRequest.validateRecords, UnifiedLog.analyzeAndValidateRecords and LogValidator),
// that a refused batch appends nothing (the next good batch lands at offset 0), that an
// accepted one appends its records, and that the broker is unharmed.

#include <functional>

#include "fjord/protocol/messages/produce_request.h"
#include "fjord/protocol/messages/produce_response.h"
#include "hostile.h"
#include "raw_batch.h"

namespace fjord::hostile {
namespace {

struct FieldCase {
  std::string name;
  std::function<std::vector<uint8_t>()> batch;
  ErrorCode error;
  int32_t appended = 0;  // records the batch adds when it is taken
  std::map<std::string, std::string> topic_configs = {};
  std::string message = {};  // Kafka's error_message, where it sets one
};

void PrintTo(const FieldCase& c, std::ostream* os) { *os << c.name; }

std::string CaseName(const ::testing::TestParamInfo<FieldCase>& info) { return info.param.name; }

RawBatch Mutated(std::function<void(RawBatch&)> f, int records = 1) {
  RawBatch b = RawBatch::WithRecords(records);
  f(b);
  return b;
}

std::function<std::vector<uint8_t>()> Batch(std::function<void(RawBatch&)> f, int records = 1) {
  return [f, records] { return Mutated(f, records).Encode(); };
}

std::function<std::vector<uint8_t>()> Record(std::function<void(RawRecord&)> f) {
  return Batch([f](RawBatch& b) { f(b.records[0]); });
}

class RecordFieldsTest : public HostileTest, public ::testing::WithParamInterface<FieldCase> {};

TEST_P(RecordFieldsTest, AnswersKafkasErrorAndAppendsNothingWhenRefused) {
  const FieldCase& c = GetParam();
  std::string topic = "f-" + c.name;
  for (char& ch : topic) ch = ch == '_' ? '-' : ch;
  CreateTopic(topic, 1, c.topic_configs);
  const std::vector<uint8_t> bytes = c.batch();
  auto r = Produce(topic, 0, bytes);
  EXPECT_EQ(Err(r.error_code), c.error)
      << protocol::ErrorName(Err(r.error_code)) << " " << r.error_message.value_or("");
  if (c.error == ErrorCode::kNone) {
    EXPECT_EQ(r.base_offset, Offset(0));
  } else {
    EXPECT_EQ(r.base_offset, Offset(-1));
    if (!c.message.empty()) {
      EXPECT_EQ(r.error_message.value_or(""), c.message);
    }
  }
  // The next well-formed batch shows what was appended.
  auto next = Produce(topic, 0, RawBatch{}.Encode());
  EXPECT_EQ(Err(next.error_code), ErrorCode::kNone);
  EXPECT_EQ(next.base_offset, Offset(c.error == ErrorCode::kNone ? c.appended : 0));
  ExpectUnharmed(64 * 1024);
}

const std::vector<FieldCase>& Cases() {
  using E = ErrorCode;
  static const std::vector<FieldCase> cases = {
      // ---- the batch header
      {"BadCrc", Batch([](RawBatch& b) { b.crc = 0xdeadbeef; }), E::kCorruptMessage},
      // Produce v3+ takes magic 2 only: older magics are an invalid record, unknown ones
      // a corrupt message (ByteBufferLogInputStream checks 0..2 first).
      {"MagicZero", Batch([](RawBatch& b) { b.magic = 0; }), E::kInvalidRecord},
      {"MagicOne", Batch([](RawBatch& b) { b.magic = 1; }), E::kInvalidRecord},
      {"MagicThree", Batch([](RawBatch& b) { b.magic = 3; }), E::kCorruptMessage},
      {"MagicNegative", Batch([](RawBatch& b) { b.magic = -1; }), E::kCorruptMessage},
      // A length below the smallest legacy message (14) is corrupt.
      {"BatchLengthNegative", Batch([](RawBatch& b) { b.batch_length = -1; }), E::kCorruptMessage},
      {"BatchLengthTen", Batch([](RawBatch& b) { b.batch_length = 10; }), E::kCorruptMessage},
      {"BatchLengthMinInt", Batch([](RawBatch& b) { b.batch_length = INT32_MIN; }),
       E::kCorruptMessage},
      // A whole batch shorter than the v2 header fails its validity check.
      {"BatchShorterThanItsHeader",
       [] {
         std::vector<uint8_t> v = RawBatch{}.Encode();
         v.resize(52);
         be::Store32(v.data() + 8, 40);
         return v;
       },
       E::kCorruptMessage},
      // A batch that does not end within the partition's records is no batch at all.
      {"BatchLengthPastTheRecords", Batch([](RawBatch& b) { b.batch_length = 1000; }),
       E::kInvalidRecord},
      {"BatchLengthOfAGigabyte", Batch([](RawBatch& b) { b.batch_length = 1 << 30; }),
       E::kInvalidRecord},
      {"BatchOverMaxMessageBytes",
       Record([](RawRecord& r) { r.value = std::string(3000, 'x'); }),
       E::kMessageTooLarge,
       0,
       {{"max.message.bytes", "1000"}}},
      {"BaseOffsetNonZero", Batch([](RawBatch& b) { b.base_offset = 42; }), E::kInvalidRecord},
      {"BaseOffsetNegative", Batch([](RawBatch& b) { b.base_offset = -1; }), E::kInvalidRecord},
      // The leader overwrites the partition leader epoch.
      {"PartitionLeaderEpochGarbage",
       Batch([](RawBatch& b) { b.partition_leader_epoch = 0x7ffffff0; }), E::kNone, 1},
      {"LastOffsetDeltaPastTheRecords", Batch([](RawBatch& b) { b.last_offset_delta = 2; }, 2),
       E::kInvalidRecord},
      {"LastOffsetDeltaBelowTheRecords", Batch([](RawBatch& b) { b.last_offset_delta = 0; }, 2),
       E::kInvalidRecord},
      {"LastOffsetDeltaNegative", Batch([](RawBatch& b) { b.last_offset_delta = -1; }),
       E::kInvalidRecord},
      {"RecordsCountNegative", Batch([](RawBatch& b) {
         b.records_count = -1;
         b.last_offset_delta = 0;
       }),
       E::kInvalidRecord},
      {"RecordsCountZero", Batch([](RawBatch& b) {
         b.records.clear();
         b.records_count = 0;
       }),
       E::kInvalidRecord},
      {"RecordsCountHuge", Batch([](RawBatch& b) { b.records_count = 1000000000; }),
       E::kInvalidRecord},
      {"RecordsCountAboveTheRecordsPresent",
       Batch(
           [](RawBatch& b) {
             b.records.pop_back();
             b.records_count = 3;
           },
           3),
       E::kInvalidRecord},
      {"RecordsCountBelowTheRecordsPresent",
       Batch(
           [](RawBatch& b) {
             RawRecord extra;
             extra.offset_delta = 2;
             b.records.push_back(extra);
             b.records_count = 2;
             b.last_offset_delta = 1;
           },
           2),
       E::kInvalidRecord},
      // Clients may not write control batches.
      {"ControlBatch", Batch([](RawBatch& b) { b.attributes = 0x20; }), E::kInvalidRecord},
      // Attribute bits 7-15 mean nothing to Kafka: the batch is taken.
      {"UnusedAttributeBits",
       Batch([](RawBatch& b) { b.attributes = static_cast<int16_t>(0xff80); }), E::kNone, 1},
      // A producer id without a sequence number.
      {"ProducerIdWithoutSequence", Batch([](RawBatch& b) {
         b.producer_id = 4242;
         b.producer_epoch = 0;
         b.base_sequence = -1;
       }),
       E::kInvalidRecord},
      // Without a producer id the sequence means nothing.
      {"SequenceWithoutProducerId", Batch([](RawBatch& b) { b.base_sequence = 17; }), E::kNone, 1},
      // A log-append-time batch from a client with no timestamp at all.
      {"LogAppendTimeWithoutTimestamp",
       Batch([](RawBatch& b) {
         b.attributes = 0x08;
         b.base_timestamp = -1;
         b.max_timestamp = -1;
       }),
       E::kInvalidTimestamp,
       0,
       {},
       "One or more records have been rejected due to invalid timestamp"},
      {"TwoBatches",
       [] {
         std::vector<uint8_t> v = RawBatch{}.Encode();
         const std::vector<uint8_t> second = RawBatch{}.Encode();
         v.insert(v.end(), second.begin(), second.end());
         return v;
       },
       E::kInvalidRecord},
      // Bytes after the batch too few to be a batch are trimmed, as a partial batch is.
      {"TrailingBytesShorterThanABatchHeader", Batch([](RawBatch& b) {
         b.trailing = {1, 2, 3, 4, 5};
       }),
       E::kNone, 1},
      {"TrailingPartialBatch",
       [] {
         std::vector<uint8_t> v = RawBatch{}.Encode();
         const std::vector<uint8_t> second = RawBatch{}.Encode();
         v.insert(v.end(), second.begin(), second.begin() + 30);
         return v;
       },
       E::kNone, 1},
      // ...but a following length below any batch's is corrupt.
      {"TrailingLengthBelowAnyBatch",
       Batch([](RawBatch& b) { b.trailing = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 5}; }),
       E::kCorruptMessage},
      {"EmptyRecords", [] { return std::vector<uint8_t>{}; }, E::kInvalidRecord},
      {"RecordsShorterThanAFrameHeader",
       [] {
         return std::vector<uint8_t>{0, 0, 0};
       },
       E::kInvalidRecord},
      // KIP-937 bounds.
      {"TimestampPastAfterMaxMs",
       Record([](RawRecord& r) { r.timestamp_delta = 7200000; }),
       E::kInvalidTimestamp,
       0,
       {{"message.timestamp.after.max.ms", "3600000"}},
       "One or more records have been rejected due to invalid timestamp"},
      {"TimestampBeforeBeforeMaxMs",
       Batch([](RawBatch& b) { b.base_timestamp = NowMs() - 7200000; }),
       E::kInvalidTimestamp,
       0,
       {{"message.timestamp.before.max.ms", "3600000"}},
       "One or more records have been rejected due to invalid timestamp"},

      // ---- the records
      {"RecordLengthNegative", Record([](RawRecord& r) { r.length = -3; }), E::kInvalidRecord},
      {"RecordLengthPastTheBatch", Record([](RawRecord& r) { r.length = 500; }), E::kInvalidRecord},
      {"RecordLengthShort", Record([](RawRecord& r) { r.length = 4; }), E::kInvalidRecord},
      {"RecordLengthZero", Batch([](RawBatch& b) { b.records_bytes = std::vector<uint8_t>{0}; }),
       E::kInvalidRecord},
      {"KeyLengthPastTheRecord", Record([](RawRecord& r) { r.key_length = 1000; }),
       E::kInvalidRecord},
      {"ValueLengthPastTheRecord", Record([](RawRecord& r) { r.value_length = 1000; }),
       E::kInvalidRecord},
      {"HeadersCountNegative", Record([](RawRecord& r) { r.header_count = -1; }),
       E::kInvalidRecord},
      {"HeadersCountHuge", Record([](RawRecord& r) { r.header_count = 1 << 30; }),
       E::kInvalidRecord},
      {"HeadersCountAboveTheHeaders", Record([](RawRecord& r) {
         r.headers.resize(1);
         r.header_count = 2;
       }),
       E::kInvalidRecord},
      {"HeaderKeyNull", Record([](RawRecord& r) {
         r.headers.resize(1);
         r.headers[0].key = std::nullopt;
       }),
       E::kInvalidRecord},
      {"HeaderKeyLengthNegative", Record([](RawRecord& r) {
         r.headers.resize(1);
         r.headers[0].key_length = -7;
       }),
       E::kInvalidRecord},
      {"HeaderValueNull", Record([](RawRecord& r) {
         r.headers.resize(3);
         r.headers[1].value = std::nullopt;
       }),
       E::kNone, 1},
      // Record attributes are unused since magic 2.
      {"RecordAttributesSet", Record([](RawRecord& r) { r.attributes = 0x7f; }), E::kNone, 1},
      {"NullKeyAndValue", Record([](RawRecord& r) {
         r.key = std::nullopt;
         r.value = std::nullopt;
       }),
       E::kNone, 1},
  };
  return cases;
}

INSTANTIATE_TEST_SUITE_P(Produce, RecordFieldsTest, ::testing::ValuesIn(Cases()), CaseName);

class RecordBatchRequestTest : public HostileTest {};

// A transactional batch in a Produce without a transactional id: Kafka refuses the whole
// request before it looks at any partition.
TEST_F(RecordBatchRequestTest, TransactionalBatchWithoutTransactionalIdIsRefusedWhole) {
  CreateTopic("txn-no-id", 2);
  RawBatch txn;
  txn.attributes = 0x10;
  txn.producer_id = 777;
  txn.producer_epoch = 0;
  txn.base_sequence = 0;
  const std::vector<uint8_t> bad = txn.Encode();
  const std::vector<uint8_t> good = RawBatch{}.Encode();
  protocol::ProduceRequest req = ProduceRequestOf("txn-no-id", 0, good);
  protocol::ProduceRequest::PartitionProduceData pd;
  pd.index = PartitionId(1);
  pd.records = protocol::RecordsView::Of(bad);
  req.topic_data[0].partition_data.push_back(pd);
  auto resp = client().Call<protocol::ProduceResponse>(client::Target::Any(), req);
  ASSERT_TRUE(resp.ok()) << resp.status();
  ASSERT_EQ(resp->responses.size(), 1u);
  ASSERT_EQ(resp->responses[0].partition_responses.size(), 2u);
  for (const auto& pr : resp->responses[0].partition_responses) {
    EXPECT_EQ(Err(pr.error_code), ErrorCode::kTransactionalIdAuthorizationFailed);
  }
  EXPECT_EQ(Produce("txn-no-id", 0, good).base_offset, Offset(0));
  EXPECT_EQ(Produce("txn-no-id", 1, good).base_offset, Offset(0));
  ExpectUnharmed(64 * 1024);
}

// Errors are per partition: a corrupt batch does not fail its neighbours.
TEST_F(RecordBatchRequestTest, CorruptBatchFailsOnlyItsPartition) {
  CreateTopic("neighbours", 3);
  RawBatch bad;
  bad.crc = 1;
  const std::vector<uint8_t> corrupt = bad.Encode();
  const std::vector<uint8_t> good = RawBatch{}.Encode();
  protocol::ProduceRequest req = ProduceRequestOf("neighbours", 0, good);
  for (int32_t p : {1, 2}) {
    protocol::ProduceRequest::PartitionProduceData pd;
    pd.index = PartitionId(p);
    pd.records = protocol::RecordsView::Of(p == 1 ? corrupt : good);
    req.topic_data[0].partition_data.push_back(pd);
  }
  auto resp = client().Call<protocol::ProduceResponse>(client::Target::Any(), req);
  ASSERT_TRUE(resp.ok()) << resp.status();
  const auto& prs = resp->responses[0].partition_responses;
  ASSERT_EQ(prs.size(), 3u);
  EXPECT_EQ(Err(prs[0].error_code), ErrorCode::kNone);
  EXPECT_EQ(Err(prs[1].error_code), ErrorCode::kCorruptMessage);
  EXPECT_EQ(Err(prs[2].error_code), ErrorCode::kNone);
  ExpectUnharmed(64 * 1024);
}

// An idempotent producer id the broker never issued is taken at any first sequence
// (Kafka keeps no record of issued ids on the partition); a gap after it is refused.
TEST_F(RecordBatchRequestTest, UnissuedProducerIdStartsAnywhereThenNeedsItsSequence) {
  CreateTopic("unissued-pid", 1);
  RawBatch b;
  b.producer_id = 987654;
  b.producer_epoch = 3;
  b.base_sequence = 5;
  auto first = Produce("unissued-pid", 0, b.Encode());
  EXPECT_EQ(Err(first.error_code), ErrorCode::kNone);
  b.base_sequence = 8;  // 6 is due
  EXPECT_EQ(Err(Produce("unissued-pid", 0, b.Encode()).error_code),
            ErrorCode::kOutOfOrderSequenceNumber);
  b.base_sequence = 6;
  auto next = Produce("unissued-pid", 0, b.Encode());
  EXPECT_EQ(Err(next.error_code), ErrorCode::kNone);
  EXPECT_EQ(next.base_offset, Offset(1));
  ExpectUnharmed(64 * 1024);
}

}  // namespace
}  // namespace fjord::hostile
