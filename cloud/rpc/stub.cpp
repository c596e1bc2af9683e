#include "cloud/rpc/stub.h"

#include <thread>

#include "cloud/rpc/timer_queue.h"

namespace homestead::rpc {

RawReply Channel::call(RawRequest request, Clock::time_point deadline) {
  std::promise<RawReply> promise;
  auto future = promise.get_future();
  start_call(std::move(request), deadline, [&promise](RawReply reply) { promise.set_value(std::move(reply)); });
  return future.get();
}

// One call's progress through its attempts.
struct Invoker::Plan {
  std::shared_ptr<Channel> channel;
  std::shared_ptr<ClientSession> session;
  RawRequest request;
  Semantics semantics = Semantics::at_least_once;
  RetryPolicy retry;
  Clock::time_point deadline;
  std::chrono::milliseconds attempt_timeout{0};
  int attempt = 0;
  bool maybe_executed = false;
  bool sessioned = false;

  // Prepares the next attempt; false when the deadline has already passed.
  bool next(Clock::time_point& attempt_deadline) {
    const auto now = Clock::now();
    if (now >= deadline) return false;
    ++attempt;
    if (sessioned) request.ack = session->ack();
    attempt_deadline = attempt_timeout.count() > 0 ? std::min(deadline, now + attempt_timeout) : deadline;
    request.timeout_ms = static_cast<std::uint32_t>(
        std::chrono::duration_cast<std::chrono::milliseconds>(attempt_deadline - now).count());
    return true;
  }

  // After a failed attempt: the delay before the next one, or nullopt to give up.
  std::optional<std::chrono::microseconds> after_failure(const RawReply& reply) {
    if (reply.kind == ErrorKind::timeout || reply.kind == ErrorKind::unknown_outcome) maybe_executed = true;
    if (!retryable(reply.kind, semantics) || attempt >= retry.max_attempts) return std::nullopt;
    const auto wait = retry.backoff(attempt + 1);
    if (Clock::now() + wait >= deadline) return std::nullopt;
    return wait;
  }

  RawReply finish(RawReply reply) {
    if (sessioned) session->finish(request.seq);
    if (reply.kind != ErrorKind::ok && reply.kind != ErrorKind::remote) {
      RpcError error = final_error(RpcError{reply.kind, std::move(reply.body)}, maybe_executed);
      reply.kind = error.kind;
      reply.body = std::move(error.message);
    }
    return reply;
  }

  RawReply deadline_passed() {
    return finish(RawReply{ErrorKind::timeout, request.codec, "deadline passed after " + std::to_string(attempt) + " attempt(s)"});
  }
};

Invoker::Invoker(std::shared_ptr<Channel> channel, StubOptions options)
    : channel_(std::move(channel)), options_(std::move(options)) {
  if (!options_.session) options_.session = std::make_shared<ClientSession>();
}

std::shared_ptr<Invoker::Plan> Invoker::plan(const std::string& method, Semantics semantics, std::string body,
                                             const CallOptions& options) {
  auto p = std::make_shared<Plan>();
  p->channel = channel_;
  p->session = options_.session;
  p->semantics = semantics;
  p->retry = options.retry.value_or(options_.retry);
  p->deadline = Clock::now() + options.timeout.value_or(options_.timeout);
  p->attempt_timeout = options.attempt_timeout.value_or(options_.attempt_timeout);
  p->request.method = method;
  p->request.codec = codec(options);
  p->request.body = std::move(body);
  p->sessioned = semantics != Semantics::at_least_once;
  if (p->sessioned) {
    p->request.client_id = p->session->client_id();
    p->request.seq = p->session->begin();
  }
  return p;
}

RawReply Invoker::call(const std::string& method, Semantics semantics, std::string body, const CallOptions& options) {
  auto p = plan(method, semantics, std::move(body), options);
  for (;;) {
    Clock::time_point attempt_deadline;
    if (!p->next(attempt_deadline)) return p->deadline_passed();
    RawReply reply = p->channel->call(p->request, attempt_deadline);
    if (reply.kind == ErrorKind::ok || reply.kind == ErrorKind::remote) return p->finish(std::move(reply));
    const auto wait = p->after_failure(reply);
    if (!wait) return p->finish(std::move(reply));
    std::this_thread::sleep_for(*wait);  // backoff in the caller's own thread
  }
}

namespace {
void attempt_async(std::shared_ptr<Invoker::Plan> p, ReplyCallback done);
}

void Invoker::call_async(const std::string& method, Semantics semantics, std::string body, const CallOptions& options,
                         ReplyCallback done) {
  attempt_async(plan(method, semantics, std::move(body), options), std::move(done));
}

namespace {
void attempt_async(std::shared_ptr<Invoker::Plan> p, ReplyCallback done) {
  Clock::time_point attempt_deadline;
  if (!p->next(attempt_deadline)) {
    done(p->deadline_passed());
    return;
  }
  auto request = p->request;
  p->channel->start_call(std::move(request), attempt_deadline, [p, done = std::move(done)](RawReply reply) mutable {
    if (reply.kind == ErrorKind::ok || reply.kind == ErrorKind::remote) {
      done(p->finish(std::move(reply)));
      return;
    }
    const auto wait = p->after_failure(reply);
    if (!wait) {
      done(p->finish(std::move(reply)));
      return;
    }
    TimerQueue::shared().schedule(Clock::now() + *wait, [p, done = std::move(done)]() mutable {
      attempt_async(std::move(p), std::move(done));
    });
  });
}
}  // namespace

}  // namespace homestead::rpc
