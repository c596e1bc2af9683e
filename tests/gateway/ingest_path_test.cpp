// The ingest and command-log paths that the gateway benchmark tunes (issue 4 performance):
// the bounded hand-off from Paho's thread, batched reading writes, and WAL checkpoints kept
// off the commit path.
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <thread>

#include "gateway/ingest_queue.h"
#include "gateway/metrics.h"
#include "gateway/reading_writer.h"
#include "gateway/store.h"
#include "tests/support/process.h"

using namespace homestead::gateway;
using homestead::testing::TempDir;
using homestead::testing::wait_until;

namespace {

InboundMessage message(const std::string& topic, const std::string& payload) {
  auto owned = std::make_shared<std::pair<std::string, std::string>>(topic, payload);
  return InboundMessage{owned, owned->first, owned->second};
}

CommandRecord command(int i) {
  CommandRecord c;
  c.id = "c" + std::to_string(i);
  c.device = "lamp";
  c.command = "turn_on";
  c.status = CommandStatus::sent;
  c.created_ms = c.updated_ms = 1000 + i;
  c.expires_ms = 100000;
  return c;
}

}  // namespace

TEST(IngestQueue, TakesEverythingQueuedInArrivalOrder) {
  IngestQueue q(100);
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(q.push(message("t" + std::to_string(i), "p" + std::to_string(i))));
  EXPECT_EQ(q.depth(), 5u);
  std::vector<InboundMessage> batch;
  ASSERT_TRUE(q.take_all(batch));
  ASSERT_EQ(batch.size(), 5u);
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(batch[static_cast<std::size_t>(i)].topic, "t" + std::to_string(i));
    EXPECT_EQ(batch[static_cast<std::size_t>(i)].payload, "p" + std::to_string(i));
  }
  EXPECT_EQ(q.depth(), 0u);
}

TEST(IngestQueue, AFullQueueHoldsTheProducerUntilTheConsumerTakes) {
  IngestQueue q(2);
  ASSERT_TRUE(q.push(message("a", "1")));
  ASSERT_TRUE(q.push(message("b", "2")));
  std::atomic<bool> third_pushed{false};
  std::thread producer([&] {
    q.push(message("c", "3"));
    third_pushed = true;
  });
  // The producer is blocked: the queue stays at its bound and the third message is not in.
  std::this_thread::sleep_for(std::chrono::milliseconds(50));  // give a broken bound the chance to show
  EXPECT_FALSE(third_pushed.load());
  EXPECT_EQ(q.depth(), 2u);
  std::vector<InboundMessage> batch;
  ASSERT_TRUE(q.take_all(batch));
  EXPECT_EQ(batch.size(), 2u);
  EXPECT_TRUE(wait_until([&] { return third_pushed.load(); }, std::chrono::seconds(5)));
  producer.join();
  ASSERT_TRUE(q.take_all(batch));
  ASSERT_EQ(batch.size(), 1u);
  EXPECT_EQ(batch[0].topic, "c");
}

TEST(IngestQueue, CloseReleasesABlockedProducerAndDrainsWhatIsLeft) {
  IngestQueue q(1);
  ASSERT_TRUE(q.push(message("kept", "1")));
  std::atomic<int> result{-1};
  std::thread producer([&] { result = q.push(message("dropped", "2")) ? 1 : 0; });
  std::this_thread::sleep_for(std::chrono::milliseconds(20));  // let it block on the full queue
  q.close();
  producer.join();
  EXPECT_EQ(result.load(), 0);
  std::vector<InboundMessage> batch;
  ASSERT_TRUE(q.take_all(batch));  // what was queued before close is still handed over
  ASSERT_EQ(batch.size(), 1u);
  EXPECT_EQ(batch[0].topic, "kept");
  EXPECT_FALSE(q.take_all(batch));
  EXPECT_TRUE(batch.empty());
  EXPECT_FALSE(q.push(message("late", "3")));
}

TEST(IngestQueue, AnIdleConsumerLetsTheProducerHandleAMessageInItsPlace) {
  IngestQueue q(10);
  EXPECT_FALSE(q.try_claim_idle());  // no consumer waiting yet
  std::vector<InboundMessage> taken;
  std::atomic<bool> consumer_returned{false};
  std::thread consumer([&] {
    q.take_all(taken);
    consumer_returned = true;
  });
  // Succeeds once the consumer is waiting on the empty queue.
  ASSERT_TRUE(wait_until([&] { return q.try_claim_idle(); }, std::chrono::seconds(5)));
  EXPECT_FALSE(q.try_claim_idle());  // one claim at a time
  // While the claim is held, a message queued by someone else stays queued: it is newer
  // than the one being handled in the consumer's place.
  ASSERT_TRUE(q.push(message("newer", "1")));
  std::this_thread::sleep_for(std::chrono::milliseconds(30));  // give a broken claim the chance to show
  EXPECT_FALSE(consumer_returned.load());
  EXPECT_EQ(q.depth(), 1u);
  q.release();
  consumer.join();
  ASSERT_EQ(taken.size(), 1u);
  EXPECT_EQ(taken[0].topic, "newer");
  // Something queued: no claim (it would overtake the queued message).
  ASSERT_TRUE(q.push(message("queued", "2")));
  EXPECT_FALSE(q.try_claim_idle());
}

TEST(ReadingWriter, CommitsABacklogLargerThanOneBatchInSeveralTransactions) {
  TempDir dir("gwingest");
  Store store(dir / "gateway.db");
  Metrics metrics;
  int transactions = 0;
  ReadingWriter::Hooks hooks;
  hooks.after_commit = [&] { ++transactions; };
  // A long flush interval: the writer wakes because the queue is full, not by the timer.
  ReadingWriter writer(store, metrics, 1000, 60000, std::move(hooks));
  std::vector<Reading> readings;
  for (int i = 0; i < 2500; ++i) readings.push_back({"s" + std::to_string(i % 7), 5000 + i, 4000 + i, static_cast<std::uint64_t>(i), "{\"t\":1}"});
  writer.push_all(std::move(readings));
  writer.start();
  ASSERT_TRUE(wait_until([&] { return writer.stored() == 2500; }, std::chrono::seconds(20)));
  writer.stop();
  EXPECT_EQ(store.reading_count(), 2500);
  EXPECT_EQ(transactions, 3);  // 1000 + 1000 + 500
  EXPECT_EQ(metrics.value("homestead_readings_stored_total"), 2500);
  const auto newest = store.readings({"s0", 0, INT64_MAX, 1});
  ASSERT_EQ(newest.size(), 1u);
  EXPECT_EQ(newest[0].seq, 2499u - (2499 % 7));
}

TEST(Store, CheckpointCatchesUpAndCommitsReuseTheWal) {
  TempDir dir("gwingest");
  const auto wal = dir / "gateway.db-wal";
  Store store(dir / "gateway.db");
  std::uintmax_t size_after_first_round = 0;
  for (int round = 0; round < 5; ++round) {
    for (int i = 0; i < 50; ++i) store.put_command(command(round * 50 + i));
    EXPECT_EQ(store.checkpoint(), 0) << "round " << round;
    if (round == 0) size_after_first_round = std::filesystem::file_size(wal);
  }
  // Without the restart after each complete checkpoint the WAL would hold 5x the frames.
  EXPECT_EQ(std::filesystem::file_size(wal), size_after_first_round);
  EXPECT_GT(size_after_first_round, 0u);
  EXPECT_EQ(store.wal_frames(), 0);  // caught up
  store.put_command(command(999));
  EXPECT_EQ(store.wal_frames(), 1);  // the hook's count after a commit: 1 page (schema 3), WAL started over
  // Everything is in the database, and a reopen (which reads through the WAL) agrees.
  ASSERT_TRUE(store.command("c249").has_value());
  EXPECT_EQ(store.integrity_check(), "ok");
}

TEST(Store, AnsweredCommandReadsDoNotPinTheWal) {
  TempDir dir("gwingest");
  Store store(dir / "gateway.db");
  store.put_command(command(1));
  ASSERT_TRUE(store.command("c1").has_value());  // the cached read statement
  EXPECT_FALSE(store.command("nope").has_value());
  store.put_command(command(2));
  EXPECT_EQ(store.checkpoint(), 0);  // no reader holds an old snapshot
}
