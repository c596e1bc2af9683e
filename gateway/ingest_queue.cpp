#include "gateway/ingest_queue.h"

namespace homestead::gateway {

bool IngestQueue::push(InboundMessage message) {
  bool was_empty = false;
  {
    std::unique_lock lock(mutex_);
    not_full_.wait(lock, [&] { return closed_ || queue_.size() < capacity_; });
    if (closed_) return false;
    was_empty = queue_.empty();
    queue_.push_back(std::move(message));
  }
  // Only the first message of a batch can find the consumer asleep: it takes everything
  // queued, and does not wait again until the queue was empty.
  if (was_empty) not_empty_.notify_one();
  return true;
}

bool IngestQueue::take_all(std::vector<InboundMessage>& out) {
  out.clear();
  bool was_full = false;
  {
    std::unique_lock lock(mutex_);
    consumer_idle_ = true;
    not_empty_.wait(lock, [&] { return (closed_ && !claimed_) || (!queue_.empty() && !claimed_); });
    consumer_idle_ = false;
    if (queue_.empty()) return false;  // closed and drained
    was_full = queue_.size() >= capacity_;
    out.swap(queue_);  // O(1): the producer never waits behind a copy
  }
  if (was_full) not_full_.notify_all();
  return true;
}

bool IngestQueue::try_claim_idle() {
  std::lock_guard lock(mutex_);
  if (closed_ || claimed_ || !consumer_idle_ || !queue_.empty()) return false;
  claimed_ = true;
  return true;
}

void IngestQueue::release() {
  {
    std::lock_guard lock(mutex_);
    claimed_ = false;
  }
  // Whatever was queued meanwhile (another producer) or a close() waits for this.
  not_empty_.notify_one();
}

void IngestQueue::close() {
  {
    std::lock_guard lock(mutex_);
    closed_ = true;
  }
  not_empty_.notify_all();
  not_full_.notify_all();
}

void IngestQueue::reopen() {
  std::lock_guard lock(mutex_);
  closed_ = false;
}

std::size_t IngestQueue::depth() const {
  std::lock_guard lock(mutex_);
  return queue_.size();
}

}  // namespace homestead::gateway
