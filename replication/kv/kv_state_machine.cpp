#include "replication/kv/kv_state_machine.h"

#include <algorithm>
#include <vector>

#include "replication/raft/codec.h"

namespace homestead::kv {

using raft::ByteReader;
using raft::ByteWriter;

Result KvStateMachine::apply(const Command& command) {
  now_ms_ = std::max(now_ms_, command.timestamp_ms);
  expire_sessions();
  if (command.client_id == 0) return execute(command);

  auto it = sessions_.find(command.client_id);
  if (it == sessions_.end()) {
    // A client starts at sequence 1 with nothing acknowledged. Anything else from an
    // unknown client means its session (and the answers it may need) expired: executing it
    // could apply a command twice.
    if (command.sequence > 1 || command.acked_below > 1) return Result{Status::session_expired, {}, {}, revision_};
    if (sessions_.size() >= limits_.max_sessions) {
      auto oldest = std::min_element(sessions_.begin(), sessions_.end(), [](const auto& a, const auto& b) {
        return a.second.last_active_ms != b.second.last_active_ms ? a.second.last_active_ms < b.second.last_active_ms
                                                                  : a.first < b.first;
      });
      sessions_.erase(oldest);
    }
    it = sessions_.emplace(command.client_id, Session{}).first;
  }
  Session& session = it->second;
  session.last_active_ms = now_ms_;
  if (command.acked_below > session.acked_below) {
    session.acked_below = command.acked_below;
    session.answers.erase(session.answers.begin(), session.answers.lower_bound(command.acked_below));
  }
  if (auto cached = session.answers.find(command.sequence); cached != session.answers.end()) return cached->second;
  if (command.sequence < session.acked_below) {
    // The client said it has this answer already; this is a stale duplicate.
    return Result{Status::session_expired, {}, {}, revision_};
  }
  Result result = execute(command);
  ++executed_session_commands_;
  session.answers.emplace(command.sequence, result);
  while (session.answers.size() > limits_.max_cached_answers) session.answers.erase(session.answers.begin());
  return result;
}

void KvStateMachine::expire_sessions() {
  for (auto it = sessions_.begin(); it != sessions_.end();) {
    if (now_ms_ - it->second.last_active_ms > limits_.session_ttl_ms) {
      it = sessions_.erase(it);
    } else {
      ++it;
    }
  }
}

Result KvStateMachine::execute(const Command& c) {
  switch (c.type) {
    case OpType::get:
    case OpType::range:
      return read(c);
    case OpType::put: {
      ++revision_;
      auto [it, inserted] = data_.try_emplace(c.key, KeyValue{c.key, {}, revision_, 0, 0});
      it->second.value = c.value;
      it->second.mod_revision = revision_;
      ++it->second.version;
      return Result{Status::ok, it->second, {}, revision_};
    }
    case OpType::del: {
      auto it = data_.find(c.key);
      if (it == data_.end()) return Result{Status::not_found, {}, {}, revision_};
      ++revision_;
      KeyValue old = std::move(it->second);
      data_.erase(it);
      return Result{Status::ok, std::move(old), {}, revision_};
    }
    case OpType::cas: {
      auto it = data_.find(c.key);
      bool holds = false;
      if (c.expected_revision) {
        holds = (it == data_.end() ? 0 : it->second.mod_revision) == *c.expected_revision;
      } else if (c.expect_absent) {
        holds = it == data_.end();
      } else {
        holds = it != data_.end() && c.expected_value && it->second.value == *c.expected_value;
      }
      if (!holds) {
        Result r{Status::compare_failed, {}, {}, revision_};
        if (it != data_.end()) r.kv = it->second;
        return r;
      }
      Command put = c;
      put.type = OpType::put;
      return execute(put);
    }
  }
  return Result{Status::not_found, {}, {}, revision_};
}

Result KvStateMachine::read(const Command& c) const {
  if (c.type == OpType::get) {
    auto it = data_.find(c.key);
    if (it == data_.end()) return Result{Status::not_found, {}, {}, revision_};
    return Result{Status::ok, it->second, {}, revision_};
  }
  if (c.type == OpType::range) {
    Result r{Status::ok, {}, {}, revision_};
    for (auto it = data_.lower_bound(c.key); it != data_.end() && it->first.compare(0, c.key.size(), c.key) == 0; ++it) {
      if (c.limit != 0 && r.range.size() >= c.limit) break;
      r.range.push_back(it->second);
    }
    return r;
  }
  return Result{Status::not_found, {}, {}, revision_};
}

std::string KvStateMachine::snapshot() const {
  ByteWriter out;
  out.varint(revision_);
  out.varint(static_cast<std::uint64_t>(now_ms_));
  out.varint(executed_session_commands_);
  out.varint(data_.size());
  for (const auto& [key, kv] : data_) write_key_value(out, kv);
  out.varint(sessions_.size());
  for (const auto& [id, session] : sessions_) {
    out.varint(id);
    out.varint(static_cast<std::uint64_t>(session.last_active_ms));
    out.varint(session.acked_below);
    out.varint(session.answers.size());
    for (const auto& [sequence, result] : session.answers) {
      out.varint(sequence);
      out.bytes(encode_result(result));
    }
  }
  return out.take();
}

void KvStateMachine::restore(std::string_view bytes) {
  ByteReader in(bytes, "kv snapshot");
  revision_ = in.varint();
  now_ms_ = static_cast<std::int64_t>(in.varint());
  executed_session_commands_ = in.varint();
  data_.clear();
  for (std::uint64_t n = in.varint(); n > 0; --n) {
    KeyValue kv = read_key_value(in);
    data_.emplace(kv.key, std::move(kv));
  }
  sessions_.clear();
  for (std::uint64_t n = in.varint(); n > 0; --n) {
    const std::uint64_t id = in.varint();
    Session session;
    session.last_active_ms = static_cast<std::int64_t>(in.varint());
    session.acked_below = in.varint();
    for (std::uint64_t k = in.varint(); k > 0; --k) {
      const std::uint64_t sequence = in.varint();
      session.answers.emplace(sequence, decode_result(in.bytes()));
    }
    sessions_.emplace(id, std::move(session));
  }
}

}  // namespace homestead::kv
