#include "cloud/rpc/server.h"

namespace homestead::rpc {

Server::Server(ServerOptions options)
    : options_(std::move(options)),
      filter_(options_.filter),
      pool_(std::make_unique<WorkerPool>(options_.workers, options_.queue_capacity)) {}

Server::~Server() { pool_->stop(); }

void Server::add_method(std::string path, Semantics semantics, RawHandler handler) {
  methods_[std::move(path)] = Method{semantics, std::move(handler)};
}

void Server::add_description(nlohmann::json service_description) {
  descriptions_.push_back(std::move(service_description));
}

nlohmann::json Server::describe() const { return {{"rpc", "homestead/v1"}, {"services", descriptions_}}; }

std::optional<std::string> Server::principal_for(std::string_view presented) const {
  if (options_.allow_anonymous) return std::string();
  bool match = false;
  for (const auto& credential : options_.credentials) {
    // Touch every byte whatever differs, so timing does not reveal a matching prefix.
    unsigned char diff = credential.size() == presented.size() ? 0 : 1;
    for (std::size_t i = 0; i < credential.size(); ++i) {
      const unsigned char other = i < presented.size() ? static_cast<unsigned char>(presented[i]) : 0;
      diff |= static_cast<unsigned char>(credential[i]) ^ other;
    }
    match |= diff == 0 && !credential.empty();
  }
  if (match) return std::string();
  if (options_.authenticator && !presented.empty()) return options_.authenticator(presented);
  return std::nullopt;
}

void Server::count_refusal(ErrorKind kind) {
  std::lock_guard lock(mutex_);
  if (kind == ErrorKind::unauthenticated) {
    ++stats_.refused_auth;
  } else {
    ++stats_.refused_other;
  }
}

RawReply Server::refuse(ErrorKind kind, std::string message, Codec codec) {
  count_refusal(kind);
  return RawReply{kind, codec, std::move(message)};
}

void Server::submit(RawRequest request, CallContext context, std::function<void(RawReply)> done) {
  if (draining_) {
    done(refuse(ErrorKind::shutting_down, "server is shutting down", request.codec));
    return;
  }
  {
    std::lock_guard lock(mutex_);
    ++in_flight_;
  }
  auto shared_done = std::make_shared<std::function<void(RawReply)>>(std::move(done));
  auto shared_request = std::make_shared<RawRequest>(std::move(request));
  const bool queued = pool_->submit([this, shared_request, context = std::move(context), shared_done] {
    (*shared_done)(run(*shared_request, context));
    finished();
  });
  if (!queued) {
    finished();
    (*shared_done)(refuse(ErrorKind::overloaded, "worker queue full", shared_request->codec));
  }
}

RawReply Server::execute(const RawRequest& request, const CallContext& context) {
  if (draining_) return refuse(ErrorKind::shutting_down, "server is shutting down", request.codec);
  {
    std::lock_guard lock(mutex_);
    ++in_flight_;
  }
  RawReply reply = run(request, context);
  finished();
  return reply;
}

void Server::finished() {
  std::lock_guard lock(mutex_);
  if (--in_flight_ == 0) idle_.notify_all();
}

RawReply Server::run(const RawRequest& request, const CallContext& context) {
  const auto found = methods_.find(request.method);
  if (found == methods_.end()) {
    return refuse(ErrorKind::not_found, "no method '" + request.method + "'", request.codec);
  }
  if (request.body.size() > options_.max_request_bytes) {
    return refuse(ErrorKind::too_large, "request of " + std::to_string(request.body.size()) +
                                            " bytes exceeds the limit of " + std::to_string(options_.max_request_bytes),
                  request.codec);
  }
  const Method& method = found->second;
  const bool filtered = method.semantics == Semantics::at_most_once;
  if (filtered && request.client_id == 0) {
    return refuse(ErrorKind::bad_request, "at-most-once method '" + request.method + "' needs a client id and sequence",
                  request.codec);
  }
  auto now_us = [this] {
    return std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - epoch_).count();
  };
  if (filtered) {
    std::unique_lock lock(mutex_);
    auto decision = filter_.check(request.client_id, request.seq, request.ack, now_us());
    switch (decision.verdict) {
      case DuplicateFilter::Verdict::execute:
        break;
      case DuplicateFilter::Verdict::duplicate:
        ++stats_.duplicates_answered;
        return RawReply{decision.saved.kind, request.codec, std::move(decision.saved.body)};
      case DuplicateFilter::Verdict::in_progress:
        lock.unlock();
        return refuse(ErrorKind::in_progress, "the first copy of this request is still executing", request.codec);
      case DuplicateFilter::Verdict::stale:
        lock.unlock();
        return refuse(ErrorKind::stale, decision.reason, request.codec);
    }
  }
  RawReply reply = method.handler(request, context);
  std::lock_guard lock(mutex_);
  const bool ran = reply.kind == ErrorKind::ok || reply.kind == ErrorKind::remote;
  if (ran) ++stats_.executed;
  if (filtered) {
    if (ran) {
      filter_.complete(request.client_id, request.seq, SavedReply{reply.kind, reply.body}, now_us());
    } else {
      filter_.abandon(request.client_id, request.seq);
    }
  }
  if (!ran) ++stats_.refused_other;
  return reply;
}

bool Server::drain(std::chrono::milliseconds grace) {
  draining_ = true;
  std::unique_lock lock(mutex_);
  return idle_.wait_for(lock, grace, [&] { return in_flight_ == 0; });
}

std::size_t Server::in_flight() const {
  std::lock_guard lock(mutex_);
  return in_flight_;
}

ServerStats Server::stats() const {
  std::lock_guard lock(mutex_);
  return stats_;
}

std::size_t Server::filter_clients() const {
  std::lock_guard lock(mutex_);
  return filter_.client_count();
}

}  // namespace homestead::rpc
