#include "cloud/cloudd/leader_forwarder.h"

#include <httplib.h>

#include <map>
#include <memory>
#include <nlohmann/json.hpp>

namespace homestead::cloudd {
namespace {

httplib::Client& client_for(const std::string& address, int timeout_ms) {
  thread_local std::map<std::string, std::unique_ptr<httplib::Client>> clients;
  auto& client = clients[address];
  if (!client) {
    client = std::make_unique<httplib::Client>("http://" + address);
    client->set_tcp_nodelay(true);
    client->set_keep_alive(true);
    client->set_connection_timeout(0, 500 * 1000);
    const int seconds = timeout_ms / 1000 + 1;
    client->set_read_timeout(seconds, 0);
    client->set_write_timeout(seconds, 0);
  }
  return *client;
}

bool is_unreserved(unsigned char c) {
  return std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' || c == '/';
}

}  // namespace

std::string encode_path_key(const std::string& key) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : key) {
    if (is_unreserved(c)) {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

void LeaderForwarder::forward(const httplib::Request& request, const std::string& path, const std::string& leader_http,
                              httplib::Response& response) const {
  httplib::Headers headers{{"Authorization", "Bearer " + secret_}, {kForwardedHeader, "1"}};
  for (const char* name : {"X-Client-Id", "X-Request-Seq", "X-Client-Ack", "If-Match"}) {
    if (request.has_header(name)) headers.emplace(name, request.get_header_value(name));
  }
  std::string target = path;
  if (!request.params.empty()) {
    target += '?';
    bool first = true;
    for (const auto& [name, value] : request.params) {
      if (!first) target += '&';
      first = false;
      target += encode_path_key(name) + "=" + encode_path_key(value);
    }
  }
  httplib::Client& client = client_for(leader_http, timeout_ms_);
  httplib::Result result = [&] {
    if (request.method == "PUT") return client.Put(target.c_str(), headers, request.body, "application/json");
    if (request.method == "POST") return client.Post(target.c_str(), headers, request.body, "application/json");
    if (request.method == "PATCH") return client.Patch(target.c_str(), headers, request.body, "application/json");
    if (request.method == "DELETE") return client.Delete(target.c_str(), headers);
    return client.Get(target.c_str(), headers);
  }();
  if (!result) {
    const bool unsent = result.error() == httplib::Error::Connection;
    response.status = unsent ? 503 : 504;
    response.set_content(nlohmann::json{{"error", unsent ? "leader unreachable; not applied"
                                                         : "forwarding to the leader failed; outcome unknown"},
                                        {"outcome", unsent ? "not_applied" : "unknown"},
                                        {"leader_http", leader_http}}
                             .dump(),
                         "application/json");
    return;
  }
  response.status = result->status;
  if (result->has_header("ETag")) response.set_header("ETag", result->get_header_value("ETag"));
  response.set_content(result->body, "application/json");
}

}  // namespace homestead::cloudd
