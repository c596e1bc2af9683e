#include "cloud/cloudd/dht_service.h"

#include <algorithm>
#include <stdexcept>

#include "cloud/cloudd/raft_server.h"
#include "cloud/dht/wire_codec.h"
#include "cloud/rpc/tcp_channel.h"
#include "common/log/log.h"

namespace homestead::cloudd {
namespace {

const log::Logger& logger() {
  static const log::Logger instance("cloudd.dht");
  return instance;
}

dht::ChordConfig chord_config(const DhtSettings& s) {
  dht::ChordConfig c;
  c.bits = s.bits;
  c.successor_list_length = s.successor_list_length;
  c.request_timeout_ticks = s.request_timeout_ticks;
  // A real ring is small (one position per member): refresh several fingers per tick so a
  // finger on a dead member is replaced within a few periods rather than `bits` of them.
  c.fingers_per_tick = 4;
  return c;
}

std::string text(const dht::NodeRef& n) { return std::to_string(n.id) + "@" + std::to_string(n.host); }

}  // namespace

dht::Id DhtService::position_of(const dht::IdSpace& space, std::uint64_t member_id) {
  return space.hash("cloudd/" + std::to_string(member_id));
}

DhtService::DhtService(const CloudConfig& config, std::string cluster_secret)
    : config_(config),
      secret_(std::move(cluster_secret)),
      space_(config.dht.bits),
      self_{position_of(space_, config.id), static_cast<dht::HostId>(config.id)},
      node_(chord_config(config.dht), self_) {
  view_.self = self_;
}

DhtService::~DhtService() { stop(); }

void DhtService::attach(RaftServer& raft) {
  raft.add_peer_method(kStepMethod, [this](const rpc::RawRequest& request, const rpc::CallContext&) {
    dht::Envelope envelope;
    try {
      envelope = dht::decode_envelope(request.body);
    } catch (const dht::WireError& e) {
      logger().warn("bad chord message", {{"error", e.what()}});
      return rpc::RawReply{rpc::ErrorKind::bad_request, request.codec, e.what()};
    }
    if (envelope.to != self_) {
      // Addressed to a position this process does not run (e.g. a stale address after a
      // member moved): dropping it looks like a silent peer, which the sender routes around.
      return rpc::RawReply{rpc::ErrorKind::ok, request.codec, {}};
    }
    {
      std::lock_guard lock(mutex_);
      inbox_.push_back(std::move(envelope));
    }
    wake_.notify_one();
    return rpc::RawReply{rpc::ErrorKind::ok, request.codec, {}};
  });
}

void DhtService::start() {
  logger().info("ring position", {{"id", std::to_string(self_.id)}, {"bits", std::to_string(space_.bits())}});
  thread_ = std::thread([this] { loop(); });
}

void DhtService::stop() {
  {
    std::lock_guard lock(mutex_);
    if (stopping_) return;
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
  for (auto& [id, promise] : waiters_) promise->set_value(DhtLookup{false, 0, {}, {}, 0, "cloudd is stopping"});
  waiters_.clear();
  for (auto& p : pending_) p.promise->set_value(DhtLookup{false, p.key, {}, {}, 0, "cloudd is stopping"});
  pending_.clear();
  channels_.clear();
}

std::vector<dht::NodeRef> DhtService::other_members() const {
  std::vector<dht::NodeRef> out;
  for (const auto& m : config_.members) {
    if (m.id != config_.id) out.push_back({position_of(space_, m.id), static_cast<dht::HostId>(m.id)});
  }
  return out;
}

void DhtService::loop() {
  const auto period = std::chrono::milliseconds(config_.dht.stabilize_ms);
  auto next_tick = std::chrono::steady_clock::now();
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    wake_.wait_until(lock, next_tick, [&] { return stopping_ || !inbox_.empty() || !pending_.empty(); });
    if (stopping_) break;
    std::vector<dht::Envelope> inbox;
    std::vector<PendingLookup> pending;
    inbox.swap(inbox_);
    pending.swap(pending_);
    lock.unlock();

    for (const auto& envelope : inbox) node_.step(envelope);
    for (auto& p : pending) waiters_[node_.lookup(p.key)] = std::move(p.promise);
    if (std::chrono::steady_clock::now() >= next_tick) {
      on_tick();
      next_tick += period;
      // After a long stall, tick once and resume the cadence instead of catching up in a burst.
      if (next_tick < std::chrono::steady_clock::now()) next_tick = std::chrono::steady_clock::now() + period;
    }
    dispatch(node_.take_ready());

    DhtRingView view{node_.joined(), self_, node_.predecessor(), node_.successors(), node_.fingers(), ticks_};
    lock.lock();
    view_ = std::move(view);
  }
}

void DhtService::on_tick() {
  ++ticks_;
  node_.tick();
  const auto others = other_members();
  if (others.empty()) {
    if (!node_.joined()) node_.create();  // a one-member cluster is a ring of one
    return;
  }
  if (ticks_ % (config_.dht.request_timeout_ticks + 1) != 1) return;
  const bool alone = node_.joined() && node_.successor() == self_;
  if (node_.joined() && !alone) return;
  const bool creator = std::all_of(config_.members.begin(), config_.members.end(),
                                   [&](const MemberAddress& m) { return m.id >= config_.id; });
  if (!node_.joined() && creator && join_rounds_ > 0) {
    logger().info("no ring answered; creating it", {{"id", std::to_string(self_.id)}});
    node_.create();
    return;
  }
  ++join_rounds_;
  // Ask everyone at once: members not on the ring stay silent, the first ring member to
  // answer wins (any later answer names the same successor on a settled ring).
  for (const auto& other : others) node_.join(other);
}

void DhtService::dispatch(dht::Ready ready) {
  for (const auto& envelope : ready.messages) send(envelope);
  for (auto& result : ready.completed) {
    const auto it = waiters_.find(result.request);
    if (it == waiters_.end()) continue;
    it->second->set_value(
        DhtLookup{result.ok, result.key, result.owner, std::move(result.path), result.timeouts, std::move(result.error)});
    waiters_.erase(it);
  }
}

void DhtService::send(const dht::Envelope& envelope) {
  auto it = channels_.find(envelope.to.host);
  if (it == channels_.end()) {
    const MemberAddress* member = config_.member(envelope.to.host);
    if (member == nullptr) {
      logger().debug("no address for ring host", {{"to", text(envelope.to)}});
      return;
    }
    rpc::TcpChannelOptions options;
    options.credential = secret_;
    // The loop connects inline: keep a dead peer from stalling it (loopback refuses at once;
    // the reconnect backoff makes later sends to a dead peer fail without trying).
    options.connect_timeout = std::chrono::milliseconds(200);
    options.reconnect_max = std::chrono::milliseconds(500);
    it = channels_.emplace(envelope.to.host,
                           std::make_unique<rpc::TcpChannel>(member->peer.host, member->peer.port, options))
             .first;
  }
  rpc::RawRequest request;
  request.method = kStepMethod;
  request.codec = rpc::Codec::msgpack;
  request.body = dht::encode_envelope(envelope);
  const auto timeout = std::chrono::milliseconds(config_.dht.stabilize_ms * config_.dht.request_timeout_ticks);
  request.timeout_ms = static_cast<std::uint32_t>(timeout.count());
  // One-way: the answer to a Chord request is another message, so the RPC reply is ignored.
  it->second->start_call(std::move(request), rpc::Clock::now() + timeout, [](rpc::RawReply) {});
}

DhtLookup DhtService::lookup(dht::Id key, std::chrono::milliseconds timeout) const {
  if (!space_.contains(key)) return DhtLookup{false, key, {}, {}, 0, "key outside the ring"};
  auto promise = std::make_shared<std::promise<DhtLookup>>();
  auto answer = promise->get_future();
  {
    std::lock_guard lock(mutex_);
    if (stopping_) return DhtLookup{false, key, {}, {}, 0, "cloudd is stopping"};
    pending_.push_back({key, std::move(promise)});
  }
  wake_.notify_one();
  if (answer.wait_for(timeout) != std::future_status::ready) {
    return DhtLookup{false, key, {}, {}, 0, "lookup timed out"};
  }
  return answer.get();
}

DhtRingView DhtService::view() const {
  std::lock_guard lock(mutex_);
  return view_;
}

dht::GroupId DhtService::group_of_host(dht::HostId) const {
  // One Raft group hosts every ring position of this cluster (issue 11: multi-group
  // sharding comes later and replaces this with the hosting group of `host`).
  return config_.dht.group;
}

dht::GroupId DhtService::group_of(std::string_view home_id) const {
  const auto timeout = std::chrono::milliseconds(config_.request_timeout_ms);
  const DhtLookup found = lookup(dht::home_key(space_, home_id), timeout);
  if (!found.ok) throw std::runtime_error("home '" + std::string(home_id) + "': " + found.error);
  return group_of_host(found.owner.host);
}

}  // namespace homestead::cloudd
