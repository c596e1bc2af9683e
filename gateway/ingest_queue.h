// The bounded hand-off between Paho's receive thread and the gateway's ingest thread.
//
// Paho C reads a message, (QoS 1) sends the PUBACK, and then calls the message callback on
// that same thread; while the callback runs nothing else is read from the broker socket. So
// the callback only appends here (O(1) under a lock that the consumer also holds for O(1))
// and returns, and the ingest thread takes everything queued at once: decoding runs
// alongside Paho's reading, and locks, metric updates and writer pushes are paid once per
// batch instead of once per message.
//
// Bounded: when `capacity` messages wait, push() blocks, so a slow consumer pushes back on
// the broker (TCP window, then the broker's per-client queue, whose drops the gateway
// reports) instead of growing memory here. Nothing durable is lost by queueing: a reading
// counts as stored only when the reading writer's batch has committed (reading_writer.h).
#pragma once

#include <condition_variable>
#include <cstddef>
#include <memory>
#include <mutex>
#include <string_view>
#include <vector>

namespace homestead::gateway {

// One received message. topic and payload point into `owner` (the Paho message), which keeps
// them alive without a copy; for messages built elsewhere owner may hold a std::string pair.
struct InboundMessage {
  std::shared_ptr<const void> owner;
  std::string_view topic;
  std::string_view payload;
};

class IngestQueue {
 public:
  explicit IngestQueue(std::size_t capacity) : capacity_(capacity == 0 ? 1 : capacity) {}

  // For a latency-critical message (a command's ack): true when nothing is queued and the
  // consumer is idle, in which case the caller now owns the consumer's role and handles the
  // message on its own thread (saving the wake-up of the ingest thread), then calls
  // release(). Order holds: nothing older is waiting, and take_all does not return while
  // the claim is held. Only for rare messages: a stream of them would stay on Paho's thread.
  bool try_claim_idle();
  void release();
  // Appends, waiting while the queue is full. False once closed (the message is dropped:
  // the daemon is stopping, and QoS 1 redelivery is not ours to give).
  bool push(InboundMessage message);
  // Waits until something is queued or the queue is closed, then moves every queued message
  // into `out` (which it clears first). False when closed and empty.
  bool take_all(std::vector<InboundMessage>& out);
  // Wakes every waiter; later pushes fail, take_all drains what is left, then returns false.
  void close();
  // Opens again after close() (the link is restarted).
  void reopen();
  std::size_t depth() const;

 private:
  const std::size_t capacity_;
  mutable std::mutex mutex_;
  std::condition_variable not_empty_;
  std::condition_variable not_full_;
  std::vector<InboundMessage> queue_;
  bool closed_ = false;
  bool consumer_idle_ = false;  // take_all is waiting for messages
  bool claimed_ = false;        // a producer is handling a message in the consumer's place
};

}  // namespace homestead::gateway
