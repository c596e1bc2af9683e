#include "cloud/cloudd/kv_state_machine.h"

#include <nlohmann/json.hpp>

#include "replication/raft/codec.h"

namespace homestead::cloudd {
namespace {

std::uint64_t mix(std::uint64_t h, std::string_view bytes) {
  for (unsigned char c : bytes) h = (h ^ c) * 1099511628211ull;  // FNV-1a
  return (h ^ 0xff) * 1099511628211ull;
}
std::uint64_t mix(std::uint64_t h, std::uint64_t v) { return mix(h, std::to_string(v)); }

}  // namespace

KvStateMachine::KvStateMachine() = default;

CommandResult KvStateMachine::apply(const Command& command) {
  if (command.client_id == 0) return execute(command);
  const auto decision = sessions_.check(command.client_id, command.seq, command.ack, command.time_us);
  // Everything the session table's next state depends on, in apply order.
  sessions_chain_ = mix(mix(mix(mix(mix(sessions_chain_, command.client_id), command.seq), command.ack), command.time_us),
                        static_cast<std::uint64_t>(decision.verdict));
  switch (decision.verdict) {
    case rpc::DuplicateFilter::Verdict::duplicate: return decision.saved.body;
    case rpc::DuplicateFilter::Verdict::stale:
      return nlohmann::json{{"error", "stale request: " + decision.reason}}.dump();
    case rpc::DuplicateFilter::Verdict::in_progress:  // cannot happen: apply is atomic
    case rpc::DuplicateFilter::Verdict::execute: break;
  }
  CommandResult result = execute(command);
  sessions_.complete(command.client_id, command.seq, rpc::SavedReply{rpc::ErrorKind::ok, result}, command.time_us);
  return result;
}

CommandResult KvStateMachine::execute(const Command& c) {
  switch (c.kind) {
    case CommandKind::put:
      put(c.key, c.value);
      return nlohmann::json{{"revision", revision_}}.dump();
    case CommandKind::remove: {
      const bool deleted = remove(c.key);
      return nlohmann::json{{"deleted", deleted ? 1 : 0}, {"revision", revision_}}.dump();
    }
    case CommandKind::txn: {
      bool holds = true;
      for (const auto& cmp : c.compares) holds = holds && compare_holds(cmp);
      const auto& ops = holds ? c.success : c.failure;
      // One transaction is one revision, however many keys it writes.
      bool bumped = false;
      for (const auto& op : ops) {
        if (!bumped) {
          ++revision_;
          bumped = true;
        }
        if (op.kind == TxnOp::Kind::put) {
          set_value(op.key, op.value);
        } else if (auto it = data_.find(op.key); it != data_.end()) {
          erase_entry(it);
        }
      }
      return nlohmann::json{{"succeeded", holds}, {"revision", revision_}}.dump();
    }
    case CommandKind::set_member:
      members_[c.member_id] = MemberInfo{c.peer_address, c.http_address};
      return nlohmann::json{{"member", c.member_id}}.dump();
    case CommandKind::drop_member:
      members_.erase(c.member_id);
      return nlohmann::json{{"member", c.member_id}}.dump();
    case CommandKind::service: {
      nlohmann::json op;
      try {
        op = nlohmann::json::parse(c.value);
      } catch (const nlohmann::json::parse_error& e) {
        // A proposer bug, not a replica divergence: every replica answers the same.
        return nlohmann::json{{"error", {{"code", "invalid"}, {"message", "operation is not JSON"}}}}.dump();
      }
      return services_.apply(op, c.time_us / 1000, c.value).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    }
  }
  return "{}";
}

bool KvStateMachine::compare_holds(const Compare& cmp) const {
  const auto it = data_.find(cmp.key);
  if (cmp.target == Compare::Target::value) return it != data_.end() && it->second.value == cmp.value;
  const std::uint64_t mod = it == data_.end() ? 0 : it->second.mod_revision;
  return mod == cmp.revision;
}

void KvStateMachine::put(const std::string& key, const std::string& value) {
  ++revision_;
  set_value(key, value);
}

bool KvStateMachine::remove(const std::string& key) {
  const auto it = data_.find(key);
  if (it == data_.end()) return false;
  ++revision_;
  erase_entry(it);
  return true;
}

std::uint64_t KvStateMachine::entry_hash(const std::string& key, const KeyValue& kv) {
  return mix(mix(mix(mix(1469598103934665603ull, key), kv.value), kv.create_revision), kv.mod_revision);
}

void KvStateMachine::remember_preimage(const std::string& key, const KeyValue* before) {
  if (!frozen_ || undo_.count(key) != 0) return;
  undo_.emplace(key, before ? std::optional<KeyValue>(*before) : std::nullopt);
}

void KvStateMachine::set_value(const std::string& key, const std::string& value) {
  if (frozen_) {
    const auto existing = data_.find(key);
    remember_preimage(key, existing == data_.end() ? nullptr : &existing->second);
  }
  auto [it, inserted] = data_.try_emplace(key);
  KeyValue& kv = it->second;
  if (!inserted) data_digest_ -= entry_hash(key, kv);
  if (kv.create_revision == 0) kv.create_revision = revision_;
  kv.value = value;
  kv.mod_revision = revision_;
  data_digest_ += entry_hash(key, kv);
}

void KvStateMachine::erase_entry(std::map<std::string, KeyValue>::iterator it) {
  remember_preimage(it->first, &it->second);
  data_digest_ -= entry_hash(it->first, it->second);
  data_.erase(it);
}

std::optional<KeyValue> KvStateMachine::get(const std::string& key) const {
  const auto it = data_.find(key);
  if (it == data_.end()) return std::nullopt;
  return it->second;
}

std::vector<std::pair<std::string, KeyValue>> KvStateMachine::range(const std::string& prefix, std::size_t limit) const {
  std::vector<std::pair<std::string, KeyValue>> out;
  for (auto it = data_.lower_bound(prefix); it != data_.end() && it->first.compare(0, prefix.size(), prefix) == 0;
       ++it) {
    if (limit != 0 && out.size() >= limit) break;
    out.emplace_back(it->first, it->second);
  }
  return out;
}

std::uint64_t KvStateMachine::state_hash() const {
  std::uint64_t h = 1469598103934665603ull;
  h = mix(mix(mix(h, revision_), data_.size()), data_digest_);
  for (const auto& [id, m] : members_) h = mix(mix(mix(h, id), m.peer_address), m.http_address);
  h = mix(h, services_.state_hash());
  return mix(h, sessions_chain_);
}

namespace {

void encode_entry(raft::ByteWriter& out, const std::string& key, const KeyValue& kv) {
  out.bytes(key);
  out.bytes(kv.value);
  out.varint(kv.create_revision);
  out.varint(kv.mod_revision);
}

}  // namespace

std::string KvStateMachine::snapshot() const {
  std::string out = encode_head();
  raft::ByteWriter keys;
  for (const auto& [key, kv] : data_) encode_entry(keys, key, kv);
  out += keys.buffer();
  out += encode_tail();
  return out;
}

std::string KvStateMachine::encode_head() const {
  raft::ByteWriter out;
  out.varint(revision_);
  out.varint(data_.size());
  return out.take();
}

KvStateMachine::FrozenSnapshot KvStateMachine::freeze() {
  FrozenSnapshot job;
  undo_.clear();
  frozen_ = true;
  job.generation = ++freeze_generation_;
  job.key_count = data_.size();
  job.head = encode_head();
  job.tail = encode_tail();
  return job;
}

bool KvStateMachine::encode_frozen(FrozenSnapshot& job, std::size_t max_keys) const {
  if (!frozen_ || job.generation != freeze_generation_) return false;
  raft::ByteWriter out;
  out.buffer().swap(job.keys);
  auto live = job.last_key ? data_.upper_bound(*job.last_key) : data_.begin();
  auto before = job.last_key ? undo_.upper_bound(*job.last_key) : undo_.begin();
  std::size_t walked = 0;
  const std::string* last = nullptr;
  // Merge the live keys with the pre-images in key order; a pre-image wins over the live
  // value (the key changed after the freeze), an absent pre-image means "not there then".
  while (walked < max_keys && (live != data_.end() || before != undo_.end())) {
    const bool take_preimage = live == data_.end() || (before != undo_.end() && before->first <= live->first);
    if (take_preimage) {
      last = &before->first;
      if (before->second) {
        encode_entry(out, before->first, *before->second);
        ++job.keys_done;
      }
      if (live != data_.end() && live->first == before->first) ++live;
      ++before;
    } else {
      last = &live->first;
      encode_entry(out, live->first, live->second);
      ++job.keys_done;
      ++live;
    }
    ++walked;
  }
  if (last != nullptr) job.last_key = *last;
  job.finished = live == data_.end() && before == undo_.end();
  out.buffer().swap(job.keys);
  return true;
}

void KvStateMachine::thaw() {
  frozen_ = false;
  undo_.clear();
}

std::string KvStateMachine::FrozenSnapshot::take() {
  if (!finished || keys_done != key_count) {
    throw std::logic_error("frozen snapshot walked " + std::to_string(keys_done) + " keys, expected " +
                           std::to_string(key_count));
  }
  std::string out;
  out.reserve(head.size() + keys.size() + tail.size());
  out += head;
  out += keys;
  out += tail;
  return out;
}

std::string KvStateMachine::encode_tail() const {
  raft::ByteWriter out;
  out.varint(members_.size());
  for (const auto& [id, m] : members_) {
    out.varint(id);
    out.bytes(m.peer_address);
    out.bytes(m.http_address);
  }
  // CBOR, not JSON text: saved replies are binary values, which JSON text cannot round-trip.
  const std::vector<std::uint8_t> sessions = nlohmann::json::to_cbor(sessions_.to_json());
  out.bytes(std::string_view(reinterpret_cast<const char*>(sessions.data()), sessions.size()));
  // Appended last, so snapshots taken before the services existed still restore.
  out.bytes(services_.snapshot());
  out.varint(sessions_chain_);  // after the services, for the same reason
  return out.take();
}

void KvStateMachine::restore(std::string_view data) {
  raft::ByteReader in(data, "kv snapshot");
  std::map<std::string, KeyValue> restored;
  const std::uint64_t revision = in.varint();
  const std::uint64_t count = in.varint();
  for (std::uint64_t i = 0; i < count; ++i) {
    std::string key = in.bytes();
    KeyValue kv;
    kv.value = in.bytes();
    kv.create_revision = in.varint();
    kv.mod_revision = in.varint();
    restored.emplace_hint(restored.end(), std::move(key), std::move(kv));
  }
  std::map<std::uint64_t, MemberInfo> members;
  const std::uint64_t member_count = in.varint();
  for (std::uint64_t i = 0; i < member_count; ++i) {
    const std::uint64_t id = in.varint();
    MemberInfo m;
    m.peer_address = in.bytes();
    m.http_address = in.bytes();
    members[id] = std::move(m);
  }
  const std::string sessions = in.bytes();
  try {
    sessions_ = rpc::DuplicateFilter::from_json(nlohmann::json::from_cbor(sessions));
  } catch (const std::exception& e) {
    throw raft::CodecError(std::string("kv snapshot: sessions: ") + e.what());
  }
  services::ServicesState services;
  if (!in.done()) {
    try {
      services.restore(in.bytes());
    } catch (const std::runtime_error& e) {
      throw raft::CodecError(std::string("kv snapshot: ") + e.what());
    }
  }
  // A snapshot from before the chain existed starts it at 0 (every replica restoring that
  // snapshot starts from the same value).
  const std::uint64_t chain = in.done() ? 0 : in.varint();
  std::uint64_t digest = 0;
  for (const auto& [key, kv] : restored) digest += entry_hash(key, kv);
  data_digest_ = digest;
  sessions_chain_ = chain;
  data_ = std::move(restored);
  // The state a frozen snapshot describes is gone: its encoder must not finish.
  thaw();
  ++freeze_generation_;
  services_ = std::move(services);
  members_ = std::move(members);
  revision_ = revision;
}

}  // namespace homestead::cloudd
