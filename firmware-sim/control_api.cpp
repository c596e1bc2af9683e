#include "firmware-sim/control_api.h"

#include <httplib.h>

#include <chrono>
#include <stdexcept>

namespace homestead::firmware {
namespace {

void reply(httplib::Response& res, int status, const nlohmann::json& body) {
  res.status = status;
  res.set_content(body.dump(), "application/json");
}

void fail(httplib::Response& res, int status, const std::string& message) { reply(res, status, {{"error", message}}); }

bool same_secret(const std::string& a, const std::string& b) {
  // Constant time in the length of the expected token, so timing does not leak a prefix.
  unsigned char diff = a.size() != b.size();
  for (std::size_t i = 0; i < b.size(); ++i) diff |= static_cast<unsigned char>((i < a.size() ? a[i] : 0) ^ b[i]);
  return diff == 0;
}

std::string_view link_name(LinkState link) {
  switch (link) {
    case LinkState::connected: return "connected";
    case LinkState::connecting: return "connecting";
    case LinkState::disconnected: return "disconnected";
  }
  return "?";
}

nlohmann::json describe(const Firmware& fw, bool with_actuations) {
  const auto& d = fw.description();
  int total = 0;
  for (const auto& [id, n] : fw.actuations()) total += n;
  nlohmann::json j = {{"id", d.id},
                      {"kind", d.kind->name},
                      {"room", d.room},
                      {"link", link_name(fw.link())},
                      {"state", fw.state()},
                      {"faults", to_json(fw.faults())},
                      {"commands_received", fw.commands_received()},
                      {"commands_dropped", fw.commands_dropped()},
                      {"commands_rejected", fw.commands_rejected()},
                      {"actuations_total", total}};
  if (with_actuations) j["actuations"] = fw.actuations();
  return j;
}

nlohmann::json parse_body(const httplib::Request& req) {
  if (req.body.empty()) return nlohmann::json::object();
  auto doc = nlohmann::json::parse(req.body, nullptr, false);
  if (doc.is_discarded()) throw std::invalid_argument("request body is not valid JSON");
  return doc;
}

}  // namespace

ControlApi::ControlApi(Fleet& fleet, std::string token) : fleet_(fleet), token_(std::move(token)) {}

ControlApi::~ControlApi() { stop(); }

void ControlApi::start(int port) {
  server_ = std::make_unique<httplib::Server>();
  auto& svr = *server_;
  // Tuning from DESIGN.md section 5: Nagle off, keep-alive that does not close every 5th
  // response, enough worker threads for the keep-alive connections a test opens.
  svr.set_tcp_nodelay(true);
  svr.set_keep_alive_max_count(10000);
  svr.new_task_queue = [] { return new httplib::ThreadPool(4); };
  svr.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
    if (req.path == "/ping") return httplib::Server::HandlerResponse::Unhandled;
    const std::string auth = req.get_header_value("Authorization");
    if (auth.rfind("Bearer ", 0) != 0 || !same_secret(auth.substr(7), token_)) {
      fail(res, 401, "missing or wrong bearer token");
      return httplib::Server::HandlerResponse::Handled;
    }
    return httplib::Server::HandlerResponse::Unhandled;
  });
  svr.Get("/ping", [](const httplib::Request&, httplib::Response& res) { res.set_content("pong", "text/plain"); });
  svr.Get("/summary", [this](const httplib::Request&, httplib::Response& res) {
    reply(res, 200, fleet_.call([this](std::int64_t now) { return fleet_.summary(now); }));
  });
  svr.Get("/devices", [this](const httplib::Request&, httplib::Response& res) {
    reply(res, 200, fleet_.call([this](std::int64_t) {
      nlohmann::json all = nlohmann::json::array();
      for (auto* fw : fleet_.devices()) all.push_back(describe(*fw, false));
      return all;
    }));
  });
  // One handler for everything under /devices/<id>: look the device up on the loop thread,
  // then act there, so no firmware state is touched from an HTTP thread.
  auto device_route = [this](const httplib::Request& req, httplib::Response& res, const std::string& action) {
    const std::string id = req.matches[1];
    nlohmann::json body;
    try {
      body = parse_body(req);
    } catch (const std::exception& e) {
      return fail(res, 400, e.what());
    }
    auto [status, result] = fleet_.call([&](std::int64_t now) -> std::pair<int, nlohmann::json> {
      Firmware* fw = fleet_.device(id);
      if (!fw) return {404, {{"error", "no device '" + id + "'"}}};
      try {
        Output out;
        if (action == "get") return {200, describe(*fw, true)};
        if (action == "actuations") return {200, nlohmann::json(fw->actuations())};
        if (action == "set_faults") {
          fw->set_faults(parse_faults(body, "faults for " + id));
        } else if (action == "clear_faults") {
          fw->set_faults(Faults{});
        } else if (action == "offline") {
          const auto d = body.value("duration_ms", nlohmann::json());
          if (!d.is_number_integer() || d.get<std::int64_t>() <= 0) {
            return {400, {{"error", "field 'duration_ms': expected milliseconds > 0, got " + d.dump()}}};
          }
          fw->go_offline(now, d.get<std::int64_t>(), out);
        } else if (action == "reboot") {
          fw->reboot(now, out);
        } else if (action == "events") {
          const auto e = body.value("event", nlohmann::json());
          if (!e.is_string()) return {400, {{"error", "field 'event': expected an event name, got " + e.dump()}}};
          fleet_.trigger(id, e.get<std::string>(), now);
        }
        fleet_.deliver(id, out);
        return {200, describe(*fw, false)};
      } catch (const std::exception& e) {
        return {400, {{"error", e.what()}}};
      }
    });
    reply(res, status, result);
  };
  const std::string dev = R"(/devices/([a-z0-9_-]+))";
  svr.Get(dev, [=](const httplib::Request& q, httplib::Response& r) { device_route(q, r, "get"); });
  svr.Get(dev + "/actuations", [=](const httplib::Request& q, httplib::Response& r) { device_route(q, r, "actuations"); });
  svr.Put(dev + "/faults", [=](const httplib::Request& q, httplib::Response& r) { device_route(q, r, "set_faults"); });
  svr.Delete(dev + "/faults", [=](const httplib::Request& q, httplib::Response& r) { device_route(q, r, "clear_faults"); });
  svr.Post(dev + "/offline", [=](const httplib::Request& q, httplib::Response& r) { device_route(q, r, "offline"); });
  svr.Post(dev + "/reboot", [=](const httplib::Request& q, httplib::Response& r) { device_route(q, r, "reboot"); });
  svr.Post(dev + "/events", [=](const httplib::Request& q, httplib::Response& r) { device_route(q, r, "events"); });

  if (!svr.bind_to_port("127.0.0.1", port)) {
    throw std::runtime_error("control API: cannot bind 127.0.0.1:" + std::to_string(port));
  }
  thread_ = std::thread([&svr] { svr.listen_after_bind(); });
  // 0.11 has no wait_until_ready(): poll is_running() with a deadline.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (!svr.is_running() && std::chrono::steady_clock::now() < deadline) std::this_thread::yield();
  if (!svr.is_running()) throw std::runtime_error("control API: server did not start");
}

void ControlApi::stop() {
  if (server_) server_->stop();
  if (thread_.joinable()) thread_.join();
}

}  // namespace homestead::firmware
