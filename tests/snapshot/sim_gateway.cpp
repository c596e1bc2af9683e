#include "tests/snapshot/sim_gateway.h"

#include <stdexcept>

#include "cloud/rpc/message_codec.h"
#include "cloud/services/sync_api.h"
#include "cloud/snapshot/stamp_codec.h"

namespace homestead::cloud_testing {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

std::uint64_t nanoseconds_since(std::chrono::steady_clock::time_point start) {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - start).count());
}

std::string url_of(CloudCluster& cluster, std::uint64_t member) {
  return "127.0.0.1:" + std::to_string(cluster.http_port(member));
}

}  // namespace

std::string register_sim_gateway(CloudCluster& cluster, const std::string& home, const std::string& id) {
  const auto created = cluster.request_any("POST", "/api/v1/homes", {{"id", home}});
  if (created.status != 201 && created.status != 409) {
    throw std::runtime_error("POST /api/v1/homes: " + std::to_string(created.status) + " " + created.body.dump());
  }
  const auto gateway = cluster.request_any("POST", "/api/v1/homes/" + home + "/gateways", {{"id", id}});
  const std::string token = gateway.body.is_object() ? gateway.body.value("token", "") : "";
  if (gateway.status != 201 || token.empty()) {
    throw std::runtime_error("POST /api/v1/homes/" + home + "/gateways: " + std::to_string(gateway.status) + " " +
                             gateway.body.dump());
  }
  return token;
}

SimGateway::SimGateway(CloudCluster& cluster, std::string home, std::string id, std::string token,
                       int items_per_push)
    : cluster_(cluster),
      home_(std::move(home)),
      id_(std::move(id)),
      token_(std::move(token)),
      items_per_push_(items_per_push),
      agent_(home_, id_) {
  thread_ = std::thread([this] { run(); });
}

SimGateway::~SimGateway() { stop(); }

void SimGateway::stop() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

std::string SimGateway::last_error() const {
  std::lock_guard lock(error_mutex_);
  return last_error_;
}

void SimGateway::fail(std::string error) {
  std::lock_guard lock(error_mutex_);
  last_error_ = std::move(error);
}

httplib::Client& SimGateway::client(const std::string& url) {
  auto& slot = clients_[url];
  if (!slot) {
    slot = std::make_unique<httplib::Client>("http://" + url);
    slot->set_tcp_nodelay(true);
    slot->set_keep_alive(true);  // as gatewayd's RPC channel: one connection per member
    slot->set_read_timeout(5, 0);
  }
  return *slot;
}

// One stamped Sync call; returns applied_through from the reply (stamp removed) or nullopt.
template <class Reply, class Request>
std::optional<std::uint64_t> SimGateway::call(const std::string& url, const std::string& method,
                                              const Request& request, std::uint64_t push_last_seq) {
  // As gatewayd's SnapshotStampingChannel: the stamp in the query, finished parts the
  // member can take as a last body field.
  std::string path = "/rpc/v1/Sync/" + method + "?" + agent_.stamp_request(url, push_last_seq);
  std::string request_body = rpc::encode_message(request, rpc::Codec::msgpack);
  const auto parts = agent_.carry_parts(url);
  if (parts.count > 0) {
    snapshot::append_text_field_msgpack(request_body, snapshot::kPartsField, parts.json);
    path += "&" + std::string(snapshot::kPartsField) + "=" + std::to_string(parts.count);
  }
  auto res = client(url).Post(path.c_str(), {{"Authorization", "Bearer " + token_}}, request_body, "application/msgpack");
  std::string body = res && res->status == 200 ? res->body : std::string();
  const std::string stamp = snapshot::strip_stamp_field_msgpack(body);
  if (parts.count > 0) agent_.carried(parts.ticket, !stamp.empty());
  if (!res || res->status != 200) {
    fail(method + ": " + (res ? std::to_string(res->status) + " " + res->body : httplib::to_string(res.error())));
    return std::nullopt;
  }
  Reply reply;
  try {
    reply = rpc::decode_message<Reply>(body, rpc::Codec::msgpack);
  } catch (const std::exception& e) {
    fail(method + ": bad reply: " + e.what());
    return std::nullopt;
  }
  if (stamp.empty()) {
    fail(method + ": reply without a stamp");
  } else {
    agent_.on_reply(url, stamp, reply.applied_through);
  }
  return reply.applied_through;
}

void SimGateway::pull(const std::string& url) {
  call<sync_api::PullReply>(url, "Pull", sync_api::PullRequest{home_, id_, 0, 1}, 0);
}

void SimGateway::run() {
  std::string leader = url_of(cluster_, cluster_.wait_for_leader(20s));
  const auto timed = [this](auto&& work) {
    const auto start = std::chrono::steady_clock::now();
    work();
    snapshot_work_ns_ += nanoseconds_since(start);
  };
  for (std::uint64_t round = 0; !stop_; ++round) {
    // The Push below carries the marks to the leader; the other members get a Pull.
    for (const auto& url : agent_.take_marker_urls(leader)) {
      timed([&] { pull(url); });
      ++marker_pulls_;
    }
    sync_api::PushRequest push{home_, id_, {}};
    const std::uint64_t first = applied_ + 1;
    const std::uint64_t last = first + static_cast<std::uint64_t>(items_per_push_) - 1;
    for (std::uint64_t seq = first; seq <= last; ++seq) {
      push.items.push_back({seq, "reported", static_cast<std::int64_t>(1000 + seq),
                            json{{"device", "d" + std::to_string(seq % 3)}, {"state", {{"n", seq}}}}.dump()});
    }
    const auto push_start = std::chrono::steady_clock::now();
    last_request_ = push_start;
    const auto applied = call<sync_api::PushReply>(leader, "Push", push, last);
    if (applied) {
      applied_ = *applied;
      push_ns_ += nanoseconds_since(push_start);
      ++pushes_;
    } else {
      const auto now = cluster_.wait_for_leader(5s);
      if (now != 0) leader = url_of(cluster_, now);
    }
    if (round % 5 == 0) pull(leader);
    timed([&] {
      // What became ready since the Push left rides on the next one.
      for (const auto& part : agent_.take_finished_parts(last_request_)) {
        const std::string path = "/api/v1/snapshots/" + part["id"].get<std::string>() + "/parts";
        auto res = client(leader).Post(path.c_str(), {{"Authorization", "Bearer " + token_}}, part.dump(),
                                       "application/json");
        if (res && res->status == 204) ++parts_posted_;
      }
    });
  }
}

}  // namespace homestead::cloud_testing
