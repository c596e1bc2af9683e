#include "cloud/rpc/fault_injector.h"

#include "cloud/rpc/timer_queue.h"

namespace homestead::rpc {

FaultInjectingChannel::FaultInjectingChannel(std::shared_ptr<Channel> inner, FaultOptions options)
    : inner_(std::move(inner)), options_(options), rng_(options.seed) {}

FaultInjectingChannel::Plan FaultInjectingChannel::decide() {
  std::lock_guard lock(mutex_);
  // Always draw every value, so one decision never shifts the next call's draws.
  Plan plan{rng_.chance(options_.drop_request), rng_.chance(options_.drop_reply), rng_.chance(options_.duplicate),
            std::chrono::microseconds(rng_.uniform(0, options_.max_delay.count())),
            std::chrono::microseconds(rng_.uniform(0, options_.max_delay.count()))};
  ++stats_.calls;
  if (plan.drop_request) {
    ++stats_.requests_dropped;
  } else if (plan.drop_reply) {
    ++stats_.replies_dropped;
  }
  if (plan.duplicate) ++stats_.duplicated;
  return plan;
}

FaultStats FaultInjectingChannel::stats() const {
  std::lock_guard lock(mutex_);
  return stats_;
}

namespace {
// What the caller sees when a message vanished: silence until its deadline.
void time_out_at(Clock::time_point deadline, ReplyCallback done, const char* what) {
  TimerQueue::shared().schedule(deadline, [done = std::move(done), what] {
    done(RawReply{ErrorKind::timeout, Codec::json, std::string("no reply before the deadline (") + what + ")"});
  });
}

void after(std::chrono::microseconds delay, std::function<void()> action) {
  if (delay.count() == 0) {
    action();
  } else {
    TimerQueue::shared().schedule(Clock::now() + delay, std::move(action));
  }
}
}  // namespace

void FaultInjectingChannel::start_call(RawRequest request, Clock::time_point deadline, ReplyCallback done) {
  const Plan plan = decide();
  if (plan.duplicate) {
    after(plan.duplicate_delay, [inner = inner_, copy = request, deadline]() mutable {
      inner->start_call(std::move(copy), deadline, [](RawReply) {});
    });
  }
  if (plan.drop_request) {
    time_out_at(deadline, std::move(done), "request dropped by the fault injector");
    return;
  }
  after(plan.delay, [inner = inner_, request = std::move(request), deadline, done = std::move(done),
                     drop_reply = plan.drop_reply]() mutable {
    inner->start_call(std::move(request), deadline, [deadline, done = std::move(done), drop_reply](RawReply reply) {
      if (drop_reply && reply.kind != ErrorKind::timeout) {
        time_out_at(deadline, done, "reply dropped by the fault injector");
      } else {
        done(std::move(reply));
      }
    });
  });
}

}  // namespace homestead::rpc
