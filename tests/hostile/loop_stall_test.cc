// Work that must not hold an event loop. The broker runs one loop for every partition, so
// anything heavy done on it would stall the probe's produce to its own partition: a batch
// that takes seconds to decompress and check, and a topic that fsyncs every append.

#include <chrono>
#include <thread>

#include "fjord/base/crc32c.h"
#include "fjord/base/endian.h"
#include "hostile.h"

namespace fjord::hostile {
namespace {

using std::chrono::milliseconds;
using std::chrono::steady_clock;

class LoopStallTest : public HostileTest {
 protected:
  static void SetUpTestSuite() { StartBroker({"num.event.loop.threads=1"}); }
};

// 384 MiB of records in a gzip batch of under 1 MB, within the topic's max.message.bytes:
// it is taken, and its records were all inflated and checked on a worker meanwhile.
TEST_F(LoopStallTest, ValidatingAHugeCompressedBatchDoesNotHoldTheLoop) {
  CreateTopic("inflating", 1, {{"max.message.bytes", std::to_string(512 << 20)}});
  const std::vector<uint8_t> batch = GzipBomb(384, 1 << 20);
  ASSERT_LT(batch.size(), 2u << 20);
  probe_->Reset();
  const auto start = steady_clock::now();
  auto r = Produce("inflating", 0, batch);
  const auto took = std::chrono::duration_cast<milliseconds>(steady_clock::now() - start);
  EXPECT_EQ(Err(r.error_code), ErrorCode::kNone);
  // The case means something only if validation takes longer than the bound below.
  EXPECT_GT(took, milliseconds(300)) << "validation was too quick to tell";
  ExpectUnharmed(96 * 1024, milliseconds(250));
}

// A huge batch whose header claims one record more than it holds is refused after the
// same work, as Kafka refuses it (INVALID_RECORD), with nothing appended.
TEST_F(LoopStallTest, AHugeBatchRefusedOnTheWorkerAppendsNothing) {
  CreateTopic("refused", 1, {{"max.message.bytes", std::to_string(512 << 20)}});
  std::vector<uint8_t> batch = GzipBomb(256, 1 << 20);
  // Claim one record more than the stream holds.
  be::Store32(batch.data() + 57, 257);
  be::Store32(batch.data() + 17, crc32c::Value(batch.data() + 21, batch.size() - 21));
  probe_->Reset();
  auto r = Produce("refused", 0, batch);
  EXPECT_EQ(Err(r.error_code), ErrorCode::kInvalidRecord);
  auto fine = Produce("refused", 0, SmallBatch());
  EXPECT_EQ(Err(fine.error_code), ErrorCode::kNone);
  EXPECT_EQ(fine.base_offset.value, 0) << "the refused batch took offsets";
  ExpectUnharmed(96 * 1024, milliseconds(250));
}

// flush.messages=1: every append is fsynced before it is acknowledged, on a worker.
TEST_F(LoopStallTest, FsyncEveryAppendIsAcknowledgedAfterTheFlush) {
  CreateTopic("durable", 1, {{"flush.messages", "1"}});
  probe_->Reset();
  for (int i = 0; i < 100; ++i) {
    auto r = Produce("durable", 0, SmallBatch(1000));
    ASSERT_EQ(Err(r.error_code), ErrorCode::kNone);
    ASSERT_EQ(r.base_offset.value, i);
  }
  ExpectUnharmed(96 * 1024, milliseconds(250));
}

}  // namespace
}  // namespace fjord::hostile
