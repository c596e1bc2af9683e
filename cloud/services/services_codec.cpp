// ServicesState as a document: snapshot (CBOR of the JSON form), restore, and the full state
// hash (FNV-1a over the canonical JSON text: nlohmann's object keys are sorted, so equal
// states give equal text on every replica).
#include <openssl/sha.h>

#include "cloud/services/services_state.h"

namespace homestead::services {
namespace {

json history_json(const HistoryEntry& h) {
  return {{"version", h.version}, {"at_ms", h.at_ms}, {"source", h.source},
          {"gateway", h.gateway}, {"seq", h.seq},     {"change", h.change}};
}

HistoryEntry history_from(const json& j) {
  return HistoryEntry{j.at("version").get<std::uint64_t>(), j.at("at_ms").get<std::int64_t>(),
                      j.at("source").get<std::string>(),   j.at("gateway").get<std::string>(),
                      j.at("seq").get<std::uint64_t>(),     j.at("change")};
}

}  // namespace

std::string sha256_hex(std::string_view text) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(text.data()), text.size(), digest);
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (const unsigned char b : digest) {
    out += hex[b >> 4];
    out += hex[b & 15];
  }
  return out;
}

json ServicesState::to_json() const {
  json homes = json::array();
  for (const auto& [id, h] : homes_) {
    homes.push_back({{"id", h.id}, {"name", h.name}, {"created_ms", h.created_ms}, {"desired_cursor", h.desired_cursor}});
  }
  json gateways = json::array();
  for (const auto& [key, g] : gateways_) {
    gateways.push_back({{"home", g.home},
                        {"id", g.id},
                        {"token_sha256", g.token_sha256},
                        {"created_ms", g.created_ms},
                        {"applied_through", g.applied_through},
                        {"last_push_ms", g.last_push_ms},
                        {"items_applied", g.items_applied},
                        {"duplicates", g.duplicates},
                        {"rejected", g.rejected}});
  }
  json devices = json::array();
  for (const auto& [key, d] : devices_) {
    json history = json::array();
    for (const auto& h : d.history) history.push_back(history_json(h));
    devices.push_back({{"home", d.home},
                       {"id", d.id},
                       {"type", d.type},
                       {"reported", d.reported},
                       {"desired", d.desired},
                       {"version", d.version},
                       {"desired_cursor", d.desired_cursor},
                       {"reported_ms", d.reported_ms},
                       {"desired_ms", d.desired_ms},
                       {"history", std::move(history)}});
  }
  json audit = json::object();
  for (const auto& [home, records] : audit_) {
    json list = json::array();
    for (const auto& r : records) {
      list.push_back({{"gateway", r.gateway}, {"seq", r.seq}, {"at_ms", r.at_ms}, {"app", r.app},
                      {"outcome", r.outcome}, {"record", r.record}});
    }
    audit[home] = std::move(list);
  }
  json conflicts = json::object();
  for (const auto& [home, records] : conflicts_) {
    json list = json::array();
    for (const auto& r : records) {
      list.push_back({{"gateway", r.gateway}, {"seq", r.seq}, {"at_ms", r.at_ms}, {"device", r.device}, {"body", r.body}});
    }
    conflicts[home] = std::move(list);
  }
  json desired = json::object();
  for (const auto& [home, changes] : desired_log_) {
    json list = json::array();
    for (const auto& c : changes) list.push_back(rpc::to_document(c));
    desired[home] = std::move(list);
  }
  json leases = json::array();
  for (const auto& [name, l] : leases_) {
    leases.push_back({{"name", l.name}, {"home", l.home}, {"holder", l.holder}, {"expires_at_ms", l.expires_at_ms},
                      {"fencing_token", l.fencing_token}});
  }
  return {{"homes", std::move(homes)},
          {"gateways", std::move(gateways)},
          {"devices", std::move(devices)},
          {"audit", std::move(audit)},
          {"conflicts", std::move(conflicts)},
          {"desired_log", std::move(desired)},
          {"leases", std::move(leases)},
          {"next_fencing_token", next_fencing_token_},
          {"now_ms", now_ms_},
          {"op_chain", std::to_string(op_chain_)},
          {"counters",
           {{"pushes", counters_.pushes},
            {"items_applied", counters_.items_applied},
            {"duplicates", counters_.duplicates},
            {"rejected", counters_.rejected},
            {"desired_changes", counters_.desired_changes},
            {"lease_grants", counters_.lease_grants}}}};
}

ServicesState ServicesState::from_json(const json& doc) {
  ServicesState s;
  for (const auto& h : doc.at("homes")) {
    Home home{h.at("id").get<std::string>(), h.at("name").get<std::string>(), h.at("created_ms").get<std::int64_t>(),
              h.at("desired_cursor").get<std::uint64_t>()};
    s.homes_[home.id] = std::move(home);
  }
  for (const auto& g : doc.at("gateways")) {
    Gateway gw;
    gw.home = g.at("home").get<std::string>();
    gw.id = g.at("id").get<std::string>();
    gw.token_sha256 = g.at("token_sha256").get<std::string>();
    gw.created_ms = g.at("created_ms").get<std::int64_t>();
    gw.applied_through = g.at("applied_through").get<std::uint64_t>();
    gw.last_push_ms = g.at("last_push_ms").get<std::int64_t>();
    gw.items_applied = g.at("items_applied").get<std::uint64_t>();
    gw.duplicates = g.at("duplicates").get<std::uint64_t>();
    gw.rejected = g.at("rejected").get<std::uint64_t>();
    s.gateways_[{gw.home, gw.id}] = std::move(gw);
  }
  for (const auto& d : doc.at("devices")) {
    Device dev;
    dev.home = d.at("home").get<std::string>();
    dev.id = d.at("id").get<std::string>();
    dev.type = d.at("type").get<std::string>();
    dev.reported = d.at("reported");
    dev.desired = d.at("desired");
    dev.version = d.at("version").get<std::uint64_t>();
    dev.desired_cursor = d.at("desired_cursor").get<std::uint64_t>();
    dev.reported_ms = d.at("reported_ms").get<std::int64_t>();
    dev.desired_ms = d.at("desired_ms").get<std::int64_t>();
    for (const auto& h : d.at("history")) dev.history.push_back(history_from(h));
    s.devices_[{dev.home, dev.id}] = std::move(dev);
  }
  for (const auto& [home, list] : doc.at("audit").items()) {
    auto& records = s.audit_[home];
    for (const auto& r : list) {
      records.push_back(AuditRecord{r.at("gateway").get<std::string>(), r.at("seq").get<std::uint64_t>(),
                                    r.at("at_ms").get<std::int64_t>(), r.at("app").get<std::string>(),
                                    r.at("outcome").get<std::string>(), r.at("record")});
    }
  }
  for (const auto& [home, list] : doc.at("conflicts").items()) {
    auto& records = s.conflicts_[home];
    for (const auto& r : list) {
      records.push_back(ConflictRecord{r.at("gateway").get<std::string>(), r.at("seq").get<std::uint64_t>(),
                                       r.at("at_ms").get<std::int64_t>(), r.at("device").get<std::string>(),
                                       r.at("body")});
    }
  }
  for (const auto& [home, list] : doc.at("desired_log").items()) {
    auto& changes = s.desired_log_[home];
    for (const auto& c : list) changes.push_back(rpc::from_document<sync_api::DesiredChange>(c));
  }
  for (const auto& l : doc.at("leases")) {
    Lease lease{l.at("name").get<std::string>(), l.at("home").get<std::string>(), l.at("holder").get<std::string>(),
                l.at("expires_at_ms").get<std::int64_t>(), l.at("fencing_token").get<std::uint64_t>()};
    s.leases_[lease.name] = std::move(lease);
  }
  s.next_fencing_token_ = doc.at("next_fencing_token").get<std::uint64_t>();
  s.now_ms_ = doc.at("now_ms").get<std::int64_t>();
  s.op_chain_ = std::stoull(doc.at("op_chain").get<std::string>());
  const json& c = doc.at("counters");
  s.counters_ = Counters{c.at("pushes").get<std::uint64_t>(),          c.at("items_applied").get<std::uint64_t>(),
                         c.at("duplicates").get<std::uint64_t>(),      c.at("rejected").get<std::uint64_t>(),
                         c.at("desired_changes").get<std::uint64_t>(), c.at("lease_grants").get<std::uint64_t>()};
  return s;
}

std::string ServicesState::snapshot() const {
  const std::vector<std::uint8_t> bytes = json::to_cbor(to_json());
  return std::string(reinterpret_cast<const char*>(bytes.data()), bytes.size());
}

void ServicesState::restore(std::string_view data) {
  try {
    *this = from_json(json::from_cbor(data));
  } catch (const json::exception& e) {
    throw std::runtime_error(std::string("services snapshot: ") + e.what());
  } catch (const rpc::SchemaError& e) {
    throw std::runtime_error(std::string("services snapshot: ") + e.what());
  } catch (const std::logic_error& e) {  // std::stoull on a bad op_chain
    throw std::runtime_error(std::string("services snapshot: ") + e.what());
  }
}

std::uint64_t ServicesState::full_state_hash() const {
  std::uint64_t h = 1469598103934665603ull;
  for (const unsigned char c : to_json().dump(-1, ' ', false, json::error_handler_t::replace)) h = (h ^ c) * 1099511628211ull;
  return h;
}

}  // namespace homestead::services
