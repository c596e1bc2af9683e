#include "cloud/cloudd/peer_transport.h"

#include <deque>
#include <optional>

#include "cloud/cloudd/snapshot_channels.h"
#include "cloud/rpc/tcp_channel.h"
#include "common/log/log.h"
#include "replication/raft/codec.h"

namespace homestead::cloudd {
namespace {

constexpr const char* kStepMethod = "Raft/Step";
// A member's settled live-snapshot part for the member that started the snapshot
// (SnapshotChannels::set_part_sender): not stamped, not a Raft message.
constexpr const char* kSnapshotPartMethod = "Snapshot/Part";
// Part frames a link holds while it cannot write them (down, busy): past this, parts are
// dropped and the initiator's report asks for them over HTTP instead.
constexpr std::size_t kMaxHeldParts = 64;
constexpr const char* kProposeMethod = "Raft/Propose";
constexpr const char* kAnswerMethod = "Raft/Answer";
constexpr std::size_t kMaxQueuedBytes = 64u << 20;
constexpr std::size_t kMaxFrameBytes = 8u << 20;

// What a frame recorded as in flight looks like in a snapshot: its Raft message kinds.
snapshot::InFlightMessage describe_frame(const std::vector<raft::Message>& messages, std::size_t bytes) {
  std::map<std::string, int> counts;
  for (const auto& m : messages) ++counts[raft::to_string(m.type)];
  std::string kind = "Raft/Step";
  if (messages.empty()) kind += " (marker)";
  for (const auto& [type, n] : counts) kind += " " + type + " x" + std::to_string(n);
  return snapshot::InFlightMessage{0, kind, bytes};
}

const log::Logger& logger() {
  static const log::Logger instance("cloudd.peer");
  return instance;
}

}  // namespace

std::string encode_message_batch(const std::vector<raft::Message>& messages) {
  raft::ByteWriter out;
  out.varint(messages.size());
  for (const auto& m : messages) out.bytes(raft::encode_message(m));
  return out.take();
}

std::vector<raft::Message> decode_message_batch(std::string_view bytes) {
  raft::ByteReader in(bytes, "raft message batch");
  const std::uint64_t count = in.varint();
  if (count > bytes.size()) throw raft::CodecError("raft message batch: count exceeds size");
  std::vector<raft::Message> out;
  out.reserve(count);
  for (std::uint64_t i = 0; i < count; ++i) out.push_back(raft::decode_message(in.bytes()));
  return out;
}

struct PeerTransport::Link {
  raft::NodeId id = 0;
  std::string name;  // the peer's snapshot process name
  std::shared_ptr<SnapshotChannels> snapshots;  // null: frames carry an empty stamp
  bool marker_pending = false;  // send a frame now even with nothing queued (snapshot marker)
  // A snapshot was recorded and no Step frame has been stamped since (deferred markers:
  // PeerTransport::set_turn_requester); the next Step frame built clears it.
  bool marker_owed = false;
  std::chrono::steady_clock::time_point owed_since;  // when marker_owed last became true
  HostPort address;
  std::shared_ptr<rpc::TcpChannel> channel;
  std::mutex mutex;
  std::condition_variable wake;
  std::deque<std::string> queue;  // encoded messages
  std::size_t queued_bytes = 0;
  // Frames the Raft loop built but could not write at once (method, body): they go first.
  std::deque<std::pair<const char*, std::string>> built;
  raft::NodeId self = 0;
  std::vector<ForwardedProposal> proposals;  // write forwarding, sent before `queue`
  std::vector<ForwardAnswer> answers;
  // A thread is stamping and writing frames (the sender or, inline, the Raft loop): one at a
  // time, so frames leave in stamp order.
  bool writing = false;
  std::uint64_t dropped = 0;
  std::uint64_t marker_frames = 0;  // explicit snapshot marker frames (no Raft messages) written
  bool stopping = false;
  std::thread sender;

  bool has_work() const {
    return !queue.empty() || !built.empty() || marker_pending || !proposals.empty() || !answers.empty();
  }

  void run() {
    std::unique_lock lock(mutex);
    while (true) {
      wake.wait(lock, [&] { return stopping || (!writing && has_work()); });
      if (stopping) return;
      writing = true;
      std::deque<std::pair<const char*, std::string>> ready;
      ready.swap(built);
      std::vector<ForwardedProposal> out_proposals;
      std::vector<ForwardAnswer> out_answers;
      out_proposals.swap(proposals);
      out_answers.swap(answers);
      for (const auto& p : out_proposals) queued_bytes -= p.data.size();
      const bool frame_due = !queue.empty() || marker_pending;
      marker_pending = false;
      if (frame_due) marker_owed = false;  // the frame below is stamped after now
      // Everything queued goes in one frame (up to a size bound).
      std::vector<std::string> batch;
      std::size_t bytes = 0;
      while (!queue.empty() && (batch.empty() || bytes + queue.front().size() <= kMaxFrameBytes)) {
        bytes += queue.front().size();
        queued_bytes -= queue.front().size();
        batch.push_back(std::move(queue.front()));
        queue.pop_front();
      }
      lock.unlock();
      for (auto& [method, body] : ready) send_call(method, std::move(body));
      send_forwarding(out_proposals, out_answers);
      if (frame_due) send_call(kStepMethod, build_step(batch));
      lock.lock();
      writing = false;
    }
  }

  // The stamp is taken when the frame is built: that is the frame's send event.
  std::string build_step(const std::vector<std::string>& batch) const {
    raft::ByteWriter body;
    body.bytes(encode_stamp(snapshots ? snapshots->stamp(name) : snapshot::Stamp{}));
    body.varint(batch.size());
    for (const auto& m : batch) body.bytes(m);
    return body.take();
  }

  static rpc::RawRequest one_way(const char* method, std::string body) {
    rpc::RawRequest request;
    request.method = method;
    request.codec = rpc::Codec::msgpack;
    request.body = std::move(body);
    request.timeout_ms = 2000;
    request.one_way = true;  // Raft answers with its own messages; an rpc reply is a wasted wake-up
    return request;
  }

  void send_call(const char* method, std::string body) {
    channel->start_call(one_way(method, std::move(body)), rpc::Clock::now() + std::chrono::seconds(2), [](rpc::RawReply) {});
  }

  // Called by the Raft loop: when nothing is queued before it, writes the frame `build`
  // makes itself if the socket has room (saving the sender thread's wake-up; true).
  // Otherwise false, under the lock, for the caller to queue.
  bool try_inline(std::unique_lock<std::mutex>& lock, const char* method, const std::function<std::string()>& build) {
    if (writing || has_work() || !channel->connected()) return false;
    writing = true;
    lock.unlock();
    rpc::RawRequest request = one_way(method, build());
    const bool sent = channel->try_send_one_way(request);
    lock.lock();
    writing = false;
    // Built (a Raft frame is stamped) but the socket was full: the sender writes it first.
    if (!sent) built.emplace_back(method, std::move(request.body));
    if (has_work()) {
      lock.unlock();
      wake.notify_one();
    }
    return true;
  }

  // A snapshot was recorded: a Step frame stamped from now on carries its cut marks. Written
  // here when the link is idle (an explicit marker frame without waking the sender thread),
  // left to the sender when it is about to build one anyway, else one more frame from it.
  void send_marker() {
    std::unique_lock lock(mutex);
    if (stopping) return;
    if (!writing && (!queue.empty() || marker_pending)) return;  // its next frame is stamped after now
    ++marker_frames;
    if (try_inline(lock, kStepMethod, [&] { return build_step({}); })) return;
    marker_pending = true;
    lock.unlock();
    wake.notify_one();
  }

  // Deferred marker: the next Step frame carries the marks; send_owed_marker() writes an
  // explicit one if none went out meanwhile.
  void owe_marker(std::chrono::steady_clock::time_point now) {
    std::lock_guard lock(mutex);
    if (!marker_owed) owed_since = now;
    marker_owed = true;
  }

  // Writes the owed marker if it has waited `linger` by `now`. Returns when a marker still
  // owed is due (nullopt: none owed).
  std::optional<std::chrono::steady_clock::time_point> send_owed_marker(std::chrono::steady_clock::time_point now,
                                                                         std::chrono::milliseconds linger) {
    {
      std::lock_guard lock(mutex);
      if (!marker_owed) return std::nullopt;
      if (now - owed_since < linger) return owed_since + linger;
      marker_owed = false;
    }
    send_marker();
    return std::nullopt;
  }

  // A frame without a stamp (a snapshot part): inline when the link is idle, else after the
  // frames already built.
  void send_unstamped(const char* method, std::string body) {
    std::unique_lock lock(mutex);
    if (stopping) return;
    if (try_inline(lock, method, [&] { return std::move(body); })) return;
    if (built.size() >= kMaxHeldParts) return;
    built.emplace_back(method, std::move(body));
    lock.unlock();
    wake.notify_one();
  }

  void send_or_queue(std::vector<std::string> encoded) {
    std::unique_lock lock(mutex);
    if (stopping) return;
    // The frame built for these (here or by the sender) is stamped after now: it carries any
    // owed marks. Owed again below if every message is dropped and no frame goes out.
    const bool was_owed = std::exchange(marker_owed, false);
    if (try_inline(lock, kStepMethod, [&] { return build_step(encoded); })) return;
    for (auto& bytes : encoded) {
      if (queued_bytes + bytes.size() > kMaxQueuedBytes) {
        ++dropped;
        continue;
      }
      queued_bytes += bytes.size();
      queue.push_back(std::move(bytes));
    }
    if (queue.empty() && !marker_pending) marker_owed = marker_owed || was_owed;
    lock.unlock();
    wake.notify_one();
  }

  std::string build_proposals(const std::vector<ForwardedProposal>& out_proposals) const {
    raft::ByteWriter body;
    body.varint(self);
    body.varint(out_proposals.size());
    for (const auto& p : out_proposals) {
      body.varint(p.id);
      body.bytes(p.data);
    }
    return body.take();
  }

  static std::string build_answers(const std::vector<ForwardAnswer>& out_answers) {
    raft::ByteWriter body;
    body.varint(out_answers.size());
    for (const auto& a : out_answers) {
      body.varint(a.id);
      body.byte(a.status);
      body.varint(a.index);
      body.varint(a.term);
      body.varint(a.leader);
    }
    return body.take();
  }

  void send_forwarding(const std::vector<ForwardedProposal>& out_proposals, const std::vector<ForwardAnswer>& out_answers) {
    if (!out_proposals.empty()) send_call(kProposeMethod, build_proposals(out_proposals));
    if (!out_answers.empty()) send_call(kAnswerMethod, build_answers(out_answers));
  }
};

PeerTransport::PeerTransport(const HostPort& listen, std::string cluster_secret, Receive on_messages)
    : secret_(std::move(cluster_secret)), on_messages_(std::move(on_messages)), snapshots_(installed_snapshot_channels()) {
  if (snapshots_) {
    snapshots_->set_marker_sender([this] { send_markers(); });
    snapshots_->set_part_sender([this](std::uint64_t member, std::string frame) { send_part(member, std::move(frame)); });
  }
  rpc::ServerOptions options;
  options.credentials = {secret_};
  // Calls run on their connection's reader thread: that keeps each connection's messages in
  // order (Raft pipelining relies on it) without a hand-off to a worker per frame. The
  // handlers only queue work for the Raft loop (or the Chord loop).
  options.inline_calls = true;
  options.workers = 1;
  options.max_request_bytes = 2 * kMaxFrameBytes;
  options.queue_capacity = 1 << 16;
  server_ = std::make_unique<rpc::Server>(options);
  server_->add_method(kStepMethod, rpc::Semantics::at_least_once,
                      [this](const rpc::RawRequest& request, const rpc::CallContext&) {
                        try {
                          // A frame: the sender's snapshot stamp, then the Raft batch.
                          raft::ByteReader in(request.body, "raft frame");
                          const snapshot::Stamp stamp = decode_stamp(in.bytes());
                          auto messages = decode_message_batch(std::string_view(request.body).substr(in.position()));
                          bool deliver = true;
                          if (snapshots_ && stamp.seq != 0) {
                            deliver = snapshots_->on_receive(
                                stamp, [&] { return describe_frame(messages, request.body.size()); });
                          }
                          if (deliver && !messages.empty()) on_messages_(std::move(messages));
                        } catch (const raft::CodecError& e) {
                          logger().warn("bad raft batch", {{"error", e.what()}});
                          return rpc::RawReply{rpc::ErrorKind::bad_request, request.codec, e.what()};
                        }
                        return rpc::RawReply{rpc::ErrorKind::ok, request.codec, {}};
                      });
  server_->add_method(kSnapshotPartMethod, rpc::Semantics::at_least_once,
                      [this](const rpc::RawRequest& request, const rpc::CallContext&) {
                        if (snapshots_ && !snapshots_->add_member_part(request.body)) {
                          return rpc::RawReply{rpc::ErrorKind::bad_request, request.codec, "bad snapshot part"};
                        }
                        return rpc::RawReply{rpc::ErrorKind::ok, request.codec, {}};
                      });
  listener_ = std::make_unique<rpc::TcpListener>(*server_, listen.host, listen.port);
}

PeerTransport::~PeerTransport() { stop(); }

void PeerTransport::add_method(std::string path, rpc::RawHandler handler) {
  server_->add_method(std::move(path), rpc::Semantics::at_least_once, std::move(handler));
}

void PeerTransport::start() { listener_->start(); }

void PeerTransport::set_forwarding(raft::NodeId self, OnProposals on_proposals, OnAnswers on_answers) {
  self_ = self;
  on_proposals_ = std::move(on_proposals);
  on_answers_ = std::move(on_answers);
  server_->add_method(kProposeMethod, rpc::Semantics::at_least_once,
                      [this](const rpc::RawRequest& request, const rpc::CallContext&) {
                        try {
                          raft::ByteReader in(request.body, "forwarded proposals");
                          const raft::NodeId from = in.varint();
                          const std::uint64_t count = in.varint();
                          if (count > request.body.size()) throw raft::CodecError("forwarded proposals: count exceeds size");
                          std::vector<ForwardedProposal> proposals(count);
                          for (auto& p : proposals) {
                            p.id = in.varint();
                            p.data = in.bytes();
                          }
                          if (!proposals.empty()) on_proposals_(from, std::move(proposals));
                        } catch (const raft::CodecError& e) {
                          logger().warn("bad forwarded proposals", {{"error", e.what()}});
                          return rpc::RawReply{rpc::ErrorKind::bad_request, request.codec, e.what()};
                        }
                        return rpc::RawReply{rpc::ErrorKind::ok, request.codec, {}};
                      });
  server_->add_method(kAnswerMethod, rpc::Semantics::at_least_once,
                      [this](const rpc::RawRequest& request, const rpc::CallContext&) {
                        try {
                          raft::ByteReader in(request.body, "proposal answers");
                          const std::uint64_t count = in.varint();
                          if (count > request.body.size()) throw raft::CodecError("proposal answers: count exceeds size");
                          std::vector<ForwardAnswer> answers(count);
                          for (auto& a : answers) {
                            a.id = in.varint();
                            a.status = in.byte();
                            a.index = in.varint();
                            a.term = in.varint();
                            a.leader = in.varint();
                          }
                          if (!answers.empty()) on_answers_(std::move(answers));
                        } catch (const raft::CodecError& e) {
                          logger().warn("bad proposal answers", {{"error", e.what()}});
                          return rpc::RawReply{rpc::ErrorKind::bad_request, request.codec, e.what()};
                        }
                        return rpc::RawReply{rpc::ErrorKind::ok, request.codec, {}};
                      });
}

bool PeerTransport::forward_proposal(raft::NodeId leader, ForwardedProposal proposal) {
  std::lock_guard lock(mutex_);
  auto it = links_.find(leader);
  if (it == links_.end()) return false;
  Link& link = *it->second;
  {
    std::unique_lock link_lock(link.mutex);
    // Not connected (e.g. the leader just died): the caller falls back to HTTP forwarding,
    // which fails fast, instead of waiting out its timeout on a proposal nobody received.
    if (link.stopping || !link.channel->connected()) return false;
    const std::vector<ForwardedProposal> one{proposal};
    if (link.try_inline(link_lock, kProposeMethod, [&] { return link.build_proposals(one); })) return true;
    if (link.queued_bytes + proposal.data.size() > kMaxQueuedBytes) return false;
    link.queued_bytes += proposal.data.size();
    link.proposals.push_back(std::move(proposal));
  }
  link.wake.notify_one();
  return true;
}

void PeerTransport::answer_proposals(raft::NodeId to, std::vector<ForwardAnswer> answers) {
  std::lock_guard lock(mutex_);
  auto it = links_.find(to);
  if (it == links_.end()) return;  // the follower times its writes out
  Link& link = *it->second;
  {
    std::unique_lock link_lock(link.mutex);
    if (link.try_inline(link_lock, kAnswerMethod, [&] { return Link::build_answers(answers); })) return;
    for (auto& a : answers) link.answers.push_back(a);
  }
  link.wake.notify_one();
}

void PeerTransport::set_on_peer_lost(std::function<void(raft::NodeId)> lost) {
  std::lock_guard lock(lost_notifier_->mutex);
  lost_notifier_->lost = std::move(lost);
}

void PeerTransport::stop() {
  std::map<raft::NodeId, std::shared_ptr<Link>> links;
  {
    std::lock_guard lock(mutex_);
    if (stopped_) return;
    stopped_ = true;
    links.swap(links_);
  }
  if (snapshots_) {
    snapshots_->set_marker_sender(nullptr);
    snapshots_->set_part_sender(nullptr);
  }
  {
    std::lock_guard lock(lost_notifier_->mutex);
    lost_notifier_->lost = nullptr;
  }
  for (auto& [id, link] : links) {
    {
      std::lock_guard lock(link->mutex);
      link->stopping = true;
    }
    link->wake.notify_all();
    link->sender.join();
  }
  listener_->stop();
}

void PeerTransport::set_peer(raft::NodeId id, const HostPort& address) {
  std::shared_ptr<Link> old;
  {
    std::lock_guard lock(mutex_);
    if (stopped_) return;
    auto it = links_.find(id);
    if (it != links_.end() && it->second->address.text() == address.text()) return;
    if (it != links_.end()) old = it->second;
    auto link = std::make_shared<Link>();
    link->id = id;
    link->name = cloud_process_name(id);
    link->snapshots = snapshots_;
    link->self = self_;
    link->address = address;
    rpc::TcpChannelOptions options;
    options.credential = secret_;
    options.connect_timeout = std::chrono::milliseconds(500);
    options.reconnect_max = std::chrono::milliseconds(200);
    options.on_connection_lost = [notifier = lost_notifier_, id] {
      std::lock_guard lock(notifier->mutex);
      if (notifier->lost) notifier->lost(id);
    };
    link->channel = std::make_shared<rpc::TcpChannel>(address.host, address.port, options);
    link->sender = std::thread([raw = link.get()] { raw->run(); });
    links_[id] = link;
  }
  if (snapshots_) snapshots_->add_peer(cloud_process_name(id));
  if (old) {
    {
      std::lock_guard lock(old->mutex);
      old->stopping = true;
    }
    old->wake.notify_all();
    old->sender.join();
  }
}

void PeerTransport::remove_peer(raft::NodeId id) {
  std::shared_ptr<Link> link;
  {
    std::lock_guard lock(mutex_);
    auto it = links_.find(id);
    if (it == links_.end()) return;
    link = it->second;
    links_.erase(it);
  }
  if (snapshots_) snapshots_->remove_peer(cloud_process_name(id));
  {
    std::lock_guard lock(link->mutex);
    link->stopping = true;
  }
  link->wake.notify_all();
  link->sender.join();
}

void PeerTransport::send(std::vector<raft::Message> messages) {
  std::map<raft::NodeId, std::vector<std::string>> by_peer;
  for (const auto& m : messages) by_peer[m.to].push_back(raft::encode_message(m));
  std::lock_guard lock(mutex_);
  for (auto& [to, encoded] : by_peer) {
    auto it = links_.find(to);
    if (it == links_.end()) continue;  // unknown peer: its address arrives with the member directory
    it->second->send_or_queue(std::move(encoded));
  }
}

void PeerTransport::set_turn_requester(std::function<void()> request_turn) { request_turn_ = std::move(request_turn); }

void PeerTransport::set_marker_linger(std::chrono::milliseconds linger) { marker_linger_ = linger; }

void PeerTransport::send_markers() {
  const auto now = std::chrono::steady_clock::now();
  {
    std::lock_guard lock(mutex_);
    for (auto& [id, link] : links_) {
      if (request_turn_) {
        link->owe_marker(now);
      } else {
        link->send_marker();
      }
    }
  }
  if (!request_turn_) return;
  if (marker_linger_.count() == 0) {
    // One turn request for any number of records before that turn's end.
    if (!markers_owed_.exchange(true)) request_turn_();
    return;
  }
  // The loop's own turns (a tick at the latest) find the markers once due. A due time set
  // late by a race with send_owed_markers only delays a marker: the flag stays set.
  if (!markers_owed_.load()) markers_due_ = (now + marker_linger_).time_since_epoch().count();
  markers_owed_ = true;
}

void PeerTransport::send_owed_markers(std::chrono::steady_clock::time_point now) {
  // Every Raft turn calls this: with markers lingering, one load and a compare until due.
  if (!markers_owed_.load() || now.time_since_epoch().count() < markers_due_.load()) return;
  if (!markers_owed_.exchange(false)) return;
  std::optional<std::chrono::steady_clock::time_point> next_due;
  {
    std::lock_guard lock(mutex_);
    for (auto& [id, link] : links_) {
      const auto due = link->send_owed_marker(now, marker_linger_);
      if (due && (!next_due || *due < *next_due)) next_due = due;
    }
  }
  if (next_due) {
    markers_due_ = next_due->time_since_epoch().count();
    markers_owed_ = true;
  }
}

void PeerTransport::send_part(raft::NodeId to, std::string frame) {
  std::lock_guard lock(mutex_);
  auto it = links_.find(to);
  if (it != links_.end()) it->second->send_unstamped(kSnapshotPartMethod, std::move(frame));
}

std::uint64_t PeerTransport::sum_over_links(std::uint64_t Link::*counter) const {
  std::lock_guard lock(mutex_);
  std::uint64_t total = 0;
  for (const auto& [id, link] : links_) {
    std::lock_guard link_lock(link->mutex);
    total += (*link).*counter;
  }
  return total;
}

std::uint64_t PeerTransport::marker_frames() const { return sum_over_links(&Link::marker_frames); }

std::uint64_t PeerTransport::dropped() const { return sum_over_links(&Link::dropped); }

}  // namespace homestead::cloudd
