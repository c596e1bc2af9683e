#include "cloud/cloudd/kv_fast_routes.h"

#include "cloud/cloudd/kv_http_common.h"
#include "cloud/cloudd/leader_forwarder.h"
#include "cloud/cloudd/secrets.h"
#include "common/log/log.h"

namespace homestead::cloudd {
namespace {

constexpr std::string_view kKeyPrefix = "/api/v1/kv/";

void send_reply(HttpConnection& connection, const JsonReply& reply, bool close, std::string_view extra_headers = {}) {
  connection.respond(http_response(reply.status, dump_json(reply.body), close, extra_headers), close);
}

}  // namespace

bool KvFastRoutes::authorized(const HttpRequest& request) const {
  const std::string_view auth = request.header("Authorization");
  constexpr std::string_view prefix = "Bearer ";
  if (auth.size() <= prefix.size() || auth.substr(0, prefix.size()) != prefix) return false;
  const std::string presented(auth.substr(prefix.size()));
  return secrets_equal(presented, token_) || secrets_equal(presented, secret_);
}

bool KvFastRoutes::handle(const HttpRequest& request, const std::shared_ptr<HttpConnection>& connection) {
  const bool put = request.method == "PUT";
  const bool remove = request.method == "DELETE";
  const bool get = request.method == "GET";
  if (!(put || remove || get)) return false;
  if (request.path.size() <= kKeyPrefix.size() || request.path.compare(0, kKeyPrefix.size(), kKeyPrefix) != 0) {
    return false;
  }
  const bool close = !request.keep_alive;
  if (!authorized(request)) {
    send_reply(*connection, unauthorized_reply(), close, "WWW-Authenticate: Bearer\r\n");
    return true;
  }
  std::string key = request.path.substr(kKeyPrefix.size());
  try {
    if (get) {
      std::optional<std::string> mode;
      std::string value;
      if (request.query_param("consistency", value)) mode = std::move(value);
      if (!wants_linearizable(mode)) {
        const auto kv = raft_.read([&](const KvStateMachine& state) { return state.get(key); });
        send_reply(*connection, get_reply(key, kv), close);
        return true;
      }
      // From here on `request` may be gone (the completion can run at once on the loop).
      raft_.linearizable_read_barrier_async(
          timeout_, [raft = &raft_, connection, key = std::move(key), close](ReadOutcome out) {
            if (!out.ok) {
              send_reply(*connection, read_barrier_refused(out), close);
              return;
            }
            const auto kv = raft->read([&](const KvStateMachine& state) { return state.get(key); });
            send_reply(*connection, get_reply(key, kv), close);
          });
      return true;
    }
    Command command;
    command.kind = put ? CommandKind::put : CommandKind::remove;
    command.key = key;
    if (put) command.value = json_string_field(parse_json_body(request.body), "value", "");
    set_session(command, [&](const char* name) {
      return request.has_header(name) ? std::optional<std::string>(request.header(name)) : std::nullopt;
    });
    const bool forwarded = request.has_header(kForwardedHeader);
    raft_.write_via_leader_async(
        std::move(command), timeout_,
        [raft = &raft_, connection, key = std::move(key), close, forwarded](WriteOutcome out) {
          if (out.status == WriteOutcome::Status::not_leader && out.leader != raft::kNoNode &&
              out.leader != raft->id() && !forwarded && raft->http_address(out.leader)) {
            connection->respond_slowly();  // http_api.cpp's route forwards it over HTTP
            return;
          }
          send_reply(*connection, write_reply(out, &key), close);
        });
  } catch (const BadRequest& e) {
    send_reply(*connection, {400, {{"error", e.what()}}}, close);
  }
  return true;
}

}  // namespace homestead::cloudd
