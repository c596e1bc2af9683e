#include "tests/raft/kv_sim.h"

namespace homestead::raft::testing {

using homestead::testing::KvInput;

std::string KvSimStateMachine::apply(const Entry& entry) {
  return kv::encode_result(kv_.apply(kv::decode_command(entry.data)));
}

std::string KvSimStateMachine::read(const std::string& command) const {
  return kv::encode_result(kv_.read(kv::decode_command(command)));
}

ClusterOptions kv_cluster_options(int servers) {
  ClusterOptions o = cluster_options(servers);
  o.snapshot_every = 40;
  o.make_state_machine = [] { return std::make_unique<KvSimStateMachine>(); };
  return o;
}

kv::Command kv_put(std::string key, std::string value) {
  kv::Command c;
  c.type = kv::OpType::put;
  c.key = std::move(key);
  c.value = std::move(value);
  return c;
}

kv::Command kv_get(std::string key) {
  kv::Command c;
  c.type = kv::OpType::get;
  c.key = std::move(key);
  return c;
}

// ---------------------------------------------------------------- KvClient

namespace {
constexpr std::uint64_t kTagNext = 1;
constexpr std::uint64_t kTagTimeout = 2;  // | attempt << 8
constexpr std::uint64_t kTagRetry = 3;    // | attempt << 8
}  // namespace

KvClient::KvClient(int index, KvClientOptions options, std::vector<homestead::testing::KvOperation>* history)
    : index_(index), options_(std::move(options)), history_(history) {}

void KvClient::start(sim::Context<Envelope>& ctx) {
  target_ = static_cast<sim::NodeId>(ctx.rng().uniform(0, options_.servers - 1));
  ctx.set_timer(ctx.rng().uniform(0, 50) * sim::kMillisecond, kTagNext);
}

void KvClient::begin_next(sim::Context<Envelope>& ctx) {
  if (completed_ >= options_.operations) return;
  auto& rng = ctx.rng();
  const std::string key = options_.keys[static_cast<std::size_t>(rng.uniform(0, static_cast<std::int64_t>(options_.keys.size()) - 1))];
  const double dice = rng.unit();
  op_ = {};
  op_.client = index_;
  op_.call = ctx.now();
  request_ = {};
  kv::Command command;
  command.key = key;
  if (dice < options_.read_fraction) {
    command.type = kv::OpType::get;
    op_.input = {KvInput::Kind::get, key, "", std::nullopt};
    request_.kind = ClientRequest::Kind::linearizable_read;
  } else {
    // Writes carry the session so retries are executed once.
    ++sequence_;
    const std::string value = "c" + std::to_string(index_) + "-" + std::to_string(sequence_);
    command.client_id = static_cast<std::uint64_t>(index_) + 1;
    command.sequence = sequence_;
    command.acked_below = acked_below_;
    command.timestamp_ms = ctx.now() / sim::kMillisecond;
    command.value = value;
    if (dice < options_.read_fraction + options_.cas_fraction) {
      command.type = kv::OpType::cas;
      std::optional<std::string> expected;
      if (!last_value_.empty() && rng.chance(0.7)) expected = last_value_;
      if (expected) {
        command.expected_value = expected;
      } else {
        command.expect_absent = true;
      }
      op_.input = {KvInput::Kind::cas, key, value, expected};
    } else if (dice < options_.read_fraction + options_.cas_fraction + options_.delete_fraction) {
      command.type = kv::OpType::del;
      op_.input = {KvInput::Kind::del, key, "", std::nullopt};
    } else {
      command.type = kv::OpType::put;
      op_.input = {KvInput::Kind::put, key, value, std::nullopt};
    }
    request_.kind = ClientRequest::Kind::write;
  }
  request_.command = kv::encode_command(command);
  in_flight_ = true;
  attempt_ = 0;
  send_attempt(ctx);
}

void KvClient::send_attempt(sim::Context<Envelope>& ctx) {
  ++attempt_;
  request_.request_id = (static_cast<std::uint64_t>(completed_) << 16) | attempt_;
  ctx.send(target_, Envelope{request_});
  ctx.set_timer(options_.attempt_timeout, kTagTimeout | (static_cast<std::uint64_t>(attempt_) << 8));
}

void KvClient::finish(sim::Context<Envelope>& ctx, const ClientReply* reply) {
  in_flight_ = false;
  const bool is_write = op_.input.kind != KvInput::Kind::get;
  if (reply) {
    const kv::Result result = kv::decode_result(reply->result);
    op_.ret = ctx.now();
    if (result.status == kv::Status::session_expired) {
      op_.unknown = true;
    } else if (op_.input.kind == KvInput::Kind::get) {
      if (result.status == kv::Status::ok && result.kv) op_.output.value = result.kv->value;
    } else if (op_.input.kind == KvInput::Kind::cas) {
      op_.output.succeeded = result.status == kv::Status::ok;
    }
    if (is_write) acked_below_ = sequence_ + 1;
    if (op_.input.kind == KvInput::Kind::get && op_.output.value) last_value_ = *op_.output.value;
    if (op_.input.kind != KvInput::Kind::get && op_.input.kind != KvInput::Kind::del) last_value_ = op_.input.value;
    history_->push_back(op_);
  } else if (is_write) {
    // No answer: it may still take effect. Abandoning it also tells the store never to run
    // it after our next command (acked_below moves past it).
    op_.unknown = true;
    ++unknown_;
    acked_below_ = sequence_ + 1;
    history_->push_back(op_);
  }
  ++completed_;
  ctx.set_timer(ctx.rng().uniform(0, 20) * sim::kMillisecond, kTagNext);
}

void KvClient::receive(sim::Context<Envelope>& ctx, sim::NodeId, const Envelope& envelope) {
  const auto* reply = std::get_if<ClientReply>(&envelope);
  if (!reply || !in_flight_ || (reply->request_id >> 16) != static_cast<std::uint64_t>(completed_)) return;
  // Any attempt's answer is this operation's answer (the session makes retries one command).
  if (reply->status == ClientReply::Status::ok) {
    finish(ctx, reply);
    return;
  }
  if ((reply->request_id & 0xffff) != attempt_) return;  // a stale redirect
  switch (reply->status) {
    case ClientReply::Status::ok:
      return;
    case ClientReply::Status::not_leader:
    case ClientReply::Status::failed: {
      const bool hinted = reply->leader_hint != kNoNode && sim_id_of(reply->leader_hint) != target_;
      target_ = hinted ? sim_id_of(reply->leader_hint) : (target_ + 1) % static_cast<sim::NodeId>(options_.servers);
      ++attempt_;  // invalidate the pending timeout
      ctx.set_timer(hinted ? 0 : 30 * sim::kMillisecond, kTagRetry | (static_cast<std::uint64_t>(attempt_) << 8));
      return;
    }
  }
}

void KvClient::timer(sim::Context<Envelope>& ctx, sim::TimerId, std::uint64_t tag) {
  const std::uint64_t kind = tag & 0xff;
  const auto attempt = static_cast<std::uint32_t>(tag >> 8);
  if (kind == kTagNext) {
    if (!in_flight_) begin_next(ctx);
    return;
  }
  if (!in_flight_ || attempt != attempt_) return;
  if (ctx.now() - op_.call > options_.give_up_after) {
    finish(ctx, nullptr);
    return;
  }
  if (kind == kTagTimeout) target_ = (target_ + 1) % static_cast<sim::NodeId>(options_.servers);
  send_attempt(ctx);
}

// ---------------------------------------------------------------- ProbeClient

void ProbeClient::receive(sim::Context<Envelope>& ctx, sim::NodeId from, const Envelope& envelope) {
  if (const auto* request = std::get_if<ClientRequest>(&envelope); request && from == sim::kExternal) {
    ctx.send(request->forward_to, Envelope{*request});
  } else if (const auto* reply = std::get_if<ClientReply>(&envelope)) {
    answers_.push_back({ctx.now(), *reply});
  }
}

}  // namespace homestead::raft::testing
