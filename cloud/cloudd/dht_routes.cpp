#include "cloud/cloudd/dht_routes.h"

#include <httplib.h>

#include <charconv>
#include <map>
#include <nlohmann/json.hpp>

#include "cloud/cloudd/dht_service.h"

namespace homestead::cloudd {
namespace {

using nlohmann::json;

void reply(httplib::Response& res, int status, const json& body) {
  res.status = status;
  // Home ids are client bytes: never let invalid UTF-8 turn into a 500.
  res.set_content(body.dump(-1, ' ', false, json::error_handler_t::replace), "application/json");
}

json node_json(const DhtService& dht, const dht::NodeRef& n) {
  return {{"id", n.id}, {"member", n.host}, {"group", dht.group_of_host(n.host)}};
}

json ring_json(const DhtService& dht) {
  const DhtRingView view = dht.view();
  std::map<dht::Id, dht::NodeRef> known;
  auto nodes = [&](const std::vector<dht::NodeRef>& list) {
    json out = json::array();
    for (const auto& n : list) {
      out.push_back(node_json(dht, n));
      known[n.id] = n;
    }
    return out;
  };
  auto maybe_node = [&](const std::optional<dht::NodeRef>& n) {
    if (!n) return json(nullptr);
    known[n->id] = *n;
    return node_json(dht, *n);
  };
  json positions = json::array();
  for (const auto& p : view.positions) {
    known[p.self.id] = p.self;
    positions.push_back({{"self", node_json(dht, p.self)},
                         {"joined", p.joined},
                         {"predecessor", maybe_node(p.predecessor)},
                         {"successors", nodes(p.successors)}});
    for (const auto& f : p.fingers) maybe_node(f);
  }
  // The top-level pointers are position 0's (the whole view when virtual_nodes is 1).
  const DhtPositionView& first = view.positions.front();
  json fingers = json::array();
  for (unsigned i = 0; i < first.fingers.size(); ++i) {
    const auto& f = first.fingers[i];
    fingers.push_back({{"index", i},
                       {"start", dht.space().finger_start(first.self.id, i)},
                       {"node", f ? node_json(dht, *f) : json(nullptr)}});
  }
  json members = json::array();
  for (const auto& [id, n] : known) members.push_back(node_json(dht, n));
  return {{"bits", dht.space().bits()},
          {"group", dht.group_of_host(first.self.host)},
          {"joined", view.joined()},
          {"ticks", view.ticks},
          {"virtual_nodes", view.positions.size()},
          {"self", node_json(dht, first.self)},
          {"predecessor", first.predecessor ? node_json(dht, *first.predecessor) : json(nullptr)},
          {"successors", nodes(first.successors)},
          {"fingers", fingers},
          {"positions", positions},
          {"members", members}};
}

}  // namespace

void install_dht_routes(httplib::Server& s, const DhtService* dht, int request_timeout_ms) {
  auto disabled = [dht](httplib::Response& res) {
    if (dht != nullptr) return false;
    reply(res, 503, {{"error", "the DHT is disabled on this node (config field 'dht.enabled')"}});
    return true;
  };
  s.Get("/api/v1/dht/ring", [dht, disabled](const httplib::Request&, httplib::Response& res) {
    if (disabled(res)) return;
    reply(res, 200, ring_json(*dht));
  });
  // Resolves `key` and answers with owner, group and hop path (the home's name when given).
  auto answer_lookup = [dht, request_timeout_ms](httplib::Response& res, dht::Id key, const std::string* home) {
    const DhtLookup found = dht->lookup(key, std::chrono::milliseconds(request_timeout_ms));
    if (!found.ok) {
      reply(res, 503, {{"error", found.error}, {"key", key}});
      return;
    }
    json path = json::array();
    for (const auto& n : found.path) path.push_back(node_json(*dht, n));
    json body{{"key", key},
              {"owner", node_json(*dht, found.owner)},
              {"group", dht->group_of_host(found.owner.host)},
              {"path", path},
              {"hops", found.path.empty() ? 0 : found.path.size() - 1},
              {"timeouts", found.timeouts}};
    if (home != nullptr) body["home"] = *home;
    reply(res, 200, body);
  };
  s.Get(R"(/api/v1/dht/lookup/(.+))", [dht, disabled, answer_lookup](const httplib::Request& req,
                                                                     httplib::Response& res) {
    if (disabled(res)) return;
    const std::string name = req.matches[1];
    const bool raw = req.has_param("raw") && req.get_param_value("raw") == "true";
    if (!raw) return answer_lookup(res, dht::home_key(dht->space(), name), &name);
    dht::Id key = 0;
    const auto parsed = std::from_chars(name.data(), name.data() + name.size(), key);
    if (parsed.ec != std::errc() || parsed.ptr != name.data() + name.size() || !dht->space().contains(key)) {
      reply(res, 400, {{"error", "key '" + name + "': with raw=true expected a decimal identifier below 2^" +
                                     std::to_string(dht->space().bits())}});
      return;
    }
    answer_lookup(res, key, nullptr);
  });
  // The home -> Raft group directory (issue 11 item 3): what a gateway or the cloud API asks
  // any member to find the group that owns a home.
  s.Get(R"(/api/v1/dht/homes/(.+))", [dht, disabled, answer_lookup](const httplib::Request& req,
                                                                    httplib::Response& res) {
    if (disabled(res)) return;
    const std::string home = req.matches[1];
    answer_lookup(res, dht::home_key(dht->space(), home), &home);
  });
}

}  // namespace homestead::cloudd
