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

dht::Id DhtService::position_of(const dht::IdSpace& space, std::uint64_t member_id, unsigned index) {
  std::string name = "cloudd/" + std::to_string(member_id);
  if (index > 0) {
    name += '/';  // appended piece by piece: g++ 12 -O3 false -Wrestrict on "x" + std::string
    name += std::to_string(index);
  }
  return space.hash(name);
}

DhtService::DhtService(const CloudConfig& config, std::string cluster_secret)
    : config_(config), secret_(std::move(cluster_secret)), space_(config.dht.bits) {
  const auto host = static_cast<dht::HostId>(config.id);
  for (unsigned i = 0; i < std::max(1u, config.dht.virtual_nodes); ++i) {
    const dht::NodeRef self{position_of(space_, config.id, i), host};
    // Two positions of one member on the same identifier (possible only on tiny rings)
    // would be one position: keep the first.
    if (std::any_of(selves_.begin(), selves_.end(), [&](const dht::NodeRef& n) { return n.id == self.id; })) continue;
    selves_.push_back(self);
    nodes_.emplace_back(chord_config(config.dht), self);
  }
  const MemberAddress* me = config_.member(config_.id);
  reply_to_ = me != nullptr ? me->peer.text() : config_.peer_listen.text();
  for (const auto& m : config_.members) {
    if (m.id != config_.id) addresses_[static_cast<dht::HostId>(m.id)] = m.peer;
  }
  view_ = make_view();
}

DhtService::~DhtService() { stop(); }

void DhtService::attach(RaftServer& raft) {
  raft.add_peer_method(kStepMethod, [this](const rpc::RawRequest& request, const rpc::CallContext&) {
    Received received;
    try {
      received.envelope = dht::decode_envelope(request.body, &received.reply_to);
    } catch (const dht::WireError& e) {
      logger().warn("bad chord message", {{"error", e.what()}});
      return rpc::RawReply{rpc::ErrorKind::bad_request, request.codec, e.what()};
    }
    if (std::find(selves_.begin(), selves_.end(), received.envelope.to) == selves_.end()) {
      // Addressed to a position this process does not run (e.g. a stale address after a
      // member moved): dropping it looks like a silent peer, which the sender routes around.
      return rpc::RawReply{rpc::ErrorKind::ok, request.codec, {}};
    }
    {
      std::lock_guard lock(mutex_);
      inbox_.push_back(std::move(received));
    }
    wake_.notify_one();
    return rpc::RawReply{rpc::ErrorKind::ok, request.codec, {}};
  });
}

void DhtService::start() {
  std::string positions;
  for (const auto& n : selves_) {
    if (!positions.empty()) positions += ',';
    positions += std::to_string(n.id);
  }
  logger().info("ring positions", {{"ids", positions}, {"bits", std::to_string(space_.bits())}});
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

DhtRingView DhtService::make_view() const {
  DhtRingView view;
  view.ticks = ticks_;
  for (const auto& n : nodes_) {
    view.positions.push_back({n.joined(), n.self(), n.predecessor(), n.successors(), n.fingers()});
  }
  return view;
}

void DhtService::loop() {
  const auto period = std::chrono::milliseconds(config_.dht.stabilize_ms);
  auto next_tick = std::chrono::steady_clock::now();
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    wake_.wait_until(lock, next_tick, [&] { return stopping_ || !inbox_.empty() || !pending_.empty(); });
    if (stopping_) break;
    std::vector<Received> inbox;
    std::vector<PendingLookup> pending;
    inbox.swap(inbox_);
    pending.swap(pending_);
    lock.unlock();

    for (const auto& r : inbox) {
      learn_address(r.envelope.from.host, r.reply_to);
      const auto at = std::find(selves_.begin(), selves_.end(), r.envelope.to);
      if (at != selves_.end()) nodes_[static_cast<std::size_t>(at - selves_.begin())].step(r.envelope);
    }
    for (auto& p : pending) {
      const std::size_t from = lookup_start(p.key);
      waiters_[{from, nodes_[from].lookup(p.key)}] = std::move(p.promise);
    }
    if (std::chrono::steady_clock::now() >= next_tick) {
      on_tick();
      next_tick += period;
      // After a long stall, tick once and resume the cadence instead of catching up in a burst.
      if (next_tick < std::chrono::steady_clock::now()) next_tick = std::chrono::steady_clock::now() + period;
    }
    for (std::size_t i = 0; i < nodes_.size(); ++i) dispatch(i, nodes_[i].take_ready());

    DhtRingView view = make_view();
    lock.lock();
    view_ = std::move(view);
  }
}

// The joined local position closest before `key` (it owns the key or routes from nearest).
std::size_t DhtService::lookup_start(dht::Id key) const {
  std::size_t best = 0;
  std::uint64_t best_distance = UINT64_MAX;
  for (std::size_t i = 0; i < nodes_.size(); ++i) {
    if (!nodes_[i].joined()) continue;
    const std::uint64_t d = space_.distance(nodes_[i].self().id, key);
    if (d < best_distance) best_distance = d, best = i;
  }
  return best;
}

// On the ring, but every pointer of every local position names this member: a ring of one
// host, e.g. the creator before anyone joined or after it restarted while the others went on.
bool DhtService::alone() const {
  const auto host = selves_.front().host;
  for (const auto& n : nodes_) {
    if (!n.joined()) continue;
    for (const auto& s : n.successors()) {
      if (s.host != host) return false;
    }
    if (n.predecessor() && n.predecessor()->host != host) return false;
  }
  return true;
}

void DhtService::on_tick() {
  ++ticks_;
  for (auto& n : nodes_) n.tick();
  const auto joined = std::find_if(nodes_.begin(), nodes_.end(), [](const dht::ChordNode& n) { return n.joined(); });
  const auto others = other_members();
  if (others.empty() && joined == nodes_.end()) {
    nodes_.front().create();  // a one-member cluster is a ring of its own positions
    return;
  }
  if (ticks_ % (config_.dht.request_timeout_ticks + 1) != 1) return;
  if (joined != nodes_.end()) {
    // Positions still off the ring join through one of ours that is on it (no network).
    for (auto& n : nodes_) {
      if (!n.joined()) n.join(joined->self());
    }
    if (others.empty() || !alone()) return;
  }
  const bool creator = std::all_of(config_.members.begin(), config_.members.end(),
                                   [&](const MemberAddress& m) { return m.id >= config_.id; });
  if (joined == nodes_.end() && creator && join_rounds_ > 0) {
    logger().info("no ring answered; creating it", {{"id", std::to_string(selves_.front().id)}});
    nodes_.front().create();
    return;
  }
  ++join_rounds_;
  // Ask everyone at once: members not on the ring stay silent, the first ring member to
  // answer wins (any later answer names the same successor on a settled ring). Every local
  // position asks for itself, so a lone member's positions each find their place on the ring.
  for (auto& n : nodes_) {
    for (const auto& other : others) n.join(other);
  }
}

void DhtService::dispatch(std::size_t position, dht::Ready ready) {
  for (const auto& envelope : ready.messages) send(envelope);
  for (auto& result : ready.completed) {
    const auto it = waiters_.find({position, result.request});
    if (it == waiters_.end()) continue;
    it->second->set_value(
        DhtLookup{result.ok, result.key, result.owner, std::move(result.path), result.timeouts, std::move(result.error)});
    waiters_.erase(it);
  }
}

void DhtService::learn_address(dht::HostId host, const std::string& reply_to) {
  if (reply_to.empty() || host == selves_.front().host) return;
  HostPort address;
  try {
    address = parse_host_port(reply_to, "reply_to");
  } catch (const std::exception& e) {
    logger().warn("bad chord reply_to address", {{"host", std::to_string(host)}, {"error", e.what()}});
    return;
  }
  const auto it = addresses_.find(host);
  if (it != addresses_.end() && it->second.text() == address.text()) return;
  logger().info("ring host address", {{"host", std::to_string(host)}, {"peer", address.text()}});
  addresses_[host] = address;
  channels_.erase(host);  // the next send connects to the new address
}

void DhtService::send(const dht::Envelope& envelope) {
  if (envelope.to.host == selves_.front().host) {
    // Between two positions of this member: straight into our own inbox (the loop turns again).
    std::lock_guard lock(mutex_);
    inbox_.push_back({envelope, {}});
    return;
  }
  auto it = channels_.find(envelope.to.host);
  if (it == channels_.end()) {
    const auto address = addresses_.find(envelope.to.host);
    if (address == addresses_.end()) {
      logger().debug("no address for ring host", {{"to", text(envelope.to)}});
      return;
    }
    rpc::TcpChannelOptions options;
    options.credential = secret_;
    // The loop connects inline: keep a dead peer from stalling it (loopback refuses at once;
    // the reconnect backoff makes later sends to a dead peer fail without trying).
    options.connect_timeout = std::chrono::milliseconds(200);
    options.reconnect_max = std::chrono::milliseconds(500);
    it = channels_.emplace(envelope.to.host, std::make_unique<rpc::TcpChannel>(address->second.host,
                                                                                address->second.port, options))
             .first;
  }
  rpc::RawRequest request;
  request.method = kStepMethod;
  request.codec = rpc::Codec::msgpack;
  request.body = dht::encode_envelope(envelope, reply_to_);
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
