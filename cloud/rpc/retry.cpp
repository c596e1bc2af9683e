#include "cloud/rpc/retry.h"

#include <algorithm>
#include <random>

#include "common/sim/rng.h"

namespace homestead::rpc {

namespace {
sim::Rng& thread_rng() {
  thread_local sim::Rng rng(std::random_device{}() ^ (std::uint64_t{std::random_device{}()} << 32));
  return rng;
}
}  // namespace

std::chrono::microseconds RetryPolicy::backoff(int attempt) const {
  double us = static_cast<double>(std::chrono::duration_cast<std::chrono::microseconds>(initial_backoff).count());
  for (int i = 2; i < attempt; ++i) us *= multiplier;
  us = std::min(us, static_cast<double>(std::chrono::duration_cast<std::chrono::microseconds>(max_backoff).count()));
  us *= 1.0 - jitter + 2.0 * jitter * thread_rng().unit();
  return std::chrono::microseconds(static_cast<std::int64_t>(std::max(0.0, us)));
}

bool retryable(ErrorKind kind, Semantics semantics) {
  switch (kind) {
    case ErrorKind::transport:
    case ErrorKind::overloaded:
    case ErrorKind::shutting_down:
    case ErrorKind::in_progress:
      return true;
    case ErrorKind::timeout:
    case ErrorKind::unknown_outcome:
      return semantics == Semantics::at_least_once || semantics == Semantics::at_most_once ||
             semantics == Semantics::exactly_once;
    default:
      return false;
  }
}

RpcError final_error(RpcError last, bool maybe_executed) {
  if (maybe_executed && never_executed(last.kind)) {
    return RpcError{ErrorKind::unknown_outcome,
                    "an earlier attempt may have executed; last attempt: " + last.describe()};
  }
  return last;
}

ClientSession::ClientSession(std::uint64_t client_id) : client_id_(client_id) {
  while (client_id_ == 0) {
    std::random_device device;
    client_id_ = (std::uint64_t{device()} << 32) | device();
  }
}

std::uint64_t ClientSession::begin() {
  std::lock_guard lock(mutex_);
  outstanding_.insert(next_seq_);
  return next_seq_++;
}

void ClientSession::finish(std::uint64_t seq) {
  std::lock_guard lock(mutex_);
  outstanding_.erase(seq);
}

std::uint64_t ClientSession::ack() const {
  std::lock_guard lock(mutex_);
  return outstanding_.empty() ? next_seq_ - 1 : *outstanding_.begin() - 1;
}

}  // namespace homestead::rpc
