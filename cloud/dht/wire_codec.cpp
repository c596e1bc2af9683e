#include "cloud/dht/wire_codec.h"

#include <nlohmann/json.hpp>
#include <type_traits>

namespace homestead::dht {
namespace {

using nlohmann::json;

json ref(const NodeRef& n) { return json::array({n.id, n.host}); }
json refs(const std::vector<NodeRef>& list) {
  json out = json::array();
  for (const auto& n : list) out.push_back(ref(n));
  return out;
}
json items(const std::vector<KeyValue>& list) {
  json out = json::array();
  for (const auto& kv : list) out.push_back(json::array({kv.key, kv.value}));
  return out;
}

// Reading side: every accessor names the field it failed on.
class Reader {
 public:
  explicit Reader(const json& object) : object_(object) {}
  const json& at(const char* name) const {
    if (!object_.contains(name)) throw WireError(std::string("chord message: field '") + name + "' is missing");
    return object_.at(name);
  }
  std::uint64_t number(const char* name) const {
    const json& v = at(name);
    if (!v.is_number_unsigned()) throw WireError(std::string("chord message: field '") + name + "' is not a number");
    return v.get<std::uint64_t>();
  }
  bool flag(const char* name) const {
    const json& v = at(name);
    if (!v.is_boolean()) throw WireError(std::string("chord message: field '") + name + "' is not a boolean");
    return v.get<bool>();
  }
  NodeRef node(const char* name) const { return to_ref(at(name), name); }
  std::optional<NodeRef> maybe_node(const char* name) const {
    if (!object_.contains(name) || object_.at(name).is_null()) return std::nullopt;
    return node(name);
  }
  std::vector<NodeRef> nodes(const char* name) const {
    const json& v = at(name);
    if (!v.is_array()) throw WireError(std::string("chord message: field '") + name + "' is not a list");
    std::vector<NodeRef> out;
    for (const auto& n : v) out.push_back(to_ref(n, name));
    return out;
  }
  std::vector<KeyValue> pairs(const char* name) const {
    const json& v = at(name);
    if (!v.is_array()) throw WireError(std::string("chord message: field '") + name + "' is not a list");
    std::vector<KeyValue> out;
    for (const auto& kv : v) {
      if (!kv.is_array() || kv.size() != 2 || !kv[0].is_number_unsigned() || !kv[1].is_string()) {
        throw WireError(std::string("chord message: field '") + name + "' holds a malformed [key, value]");
      }
      out.push_back({kv[0].get<Id>(), kv[1].get<std::string>()});
    }
    return out;
  }

 private:
  static NodeRef to_ref(const json& v, const char* name) {
    if (!v.is_array() || v.size() != 2 || !v[0].is_number_unsigned() || !v[1].is_number_unsigned()) {
      throw WireError(std::string("chord message: field '") + name + "' is not an [id, host] pair");
    }
    return NodeRef{v[0].get<Id>(), v[1].get<HostId>()};
  }
  const json& object_;
};

void write_body(json& out, const Body& body) {
  std::visit(
      [&](const auto& m) {
        using T = std::decay_t<decltype(m)>;
        if constexpr (std::is_same_v<T, NextHopRequest>) {
          out["request"] = m.request;
          out["key"] = m.key;
        } else if constexpr (std::is_same_v<T, NextHopReply>) {
          out["request"] = m.request;
          out["key"] = m.key;
          out["done"] = m.done;
          out["node"] = ref(m.node);
          out["alternatives"] = refs(m.alternatives);
        } else if constexpr (std::is_same_v<T, FindSuccessor>) {
          out["request"] = m.request;
          out["key"] = m.key;
          out["origin"] = ref(m.origin);
          out["path"] = refs(m.path);
        } else if constexpr (std::is_same_v<T, FoundSuccessor>) {
          out["request"] = m.request;
          out["key"] = m.key;
          out["owner"] = ref(m.owner);
          out["path"] = refs(m.path);
          out["replicas"] = refs(m.replicas);
        } else if constexpr (std::is_same_v<T, GetNeighbours> || std::is_same_v<T, Ping> ||
                             std::is_same_v<T, Pong> || std::is_same_v<T, PutAck>) {
          out["request"] = m.request;
        } else if constexpr (std::is_same_v<T, Neighbours>) {
          out["request"] = m.request;
          out["predecessor"] = m.predecessor ? ref(*m.predecessor) : json(nullptr);
          out["successors"] = refs(m.successors);
        } else if constexpr (std::is_same_v<T, Notify>) {
          // the sender is the candidate: nothing else to say
        } else if constexpr (std::is_same_v<T, StoreKeys>) {
          out["items"] = items(m.items);
        } else if constexpr (std::is_same_v<T, Put>) {
          out["request"] = m.request;
          out["items"] = items({m.item});
        } else if constexpr (std::is_same_v<T, Fetch>) {
          out["request"] = m.request;
          out["key"] = m.key;
        } else if constexpr (std::is_same_v<T, FetchReply>) {
          out["request"] = m.request;
          out["value"] = m.value ? json(*m.value) : json(nullptr);
        } else if constexpr (std::is_same_v<T, Leaving>) {
          out["predecessor"] = m.predecessor ? ref(*m.predecessor) : json(nullptr);
          out["successors"] = refs(m.successors);
        } else {
          static_assert(sizeof(T) == 0, "every Chord message needs an encoding");
        }
      },
      body);
}

Body read_body(const std::string& type, const Reader& r) {
  if (type == "NextHopRequest") return NextHopRequest{r.number("request"), r.number("key")};
  if (type == "NextHopReply") {
    return NextHopReply{r.number("request"), r.number("key"), r.flag("done"), r.node("node"), r.nodes("alternatives")};
  }
  if (type == "FindSuccessor") return FindSuccessor{r.number("request"), r.number("key"), r.node("origin"), r.nodes("path")};
  if (type == "FoundSuccessor") {
    return FoundSuccessor{r.number("request"), r.number("key"), r.node("owner"), r.nodes("path"), r.nodes("replicas")};
  }
  if (type == "GetNeighbours") return GetNeighbours{r.number("request")};
  if (type == "Neighbours") return Neighbours{r.number("request"), r.maybe_node("predecessor"), r.nodes("successors")};
  if (type == "Notify") return Notify{};
  if (type == "Ping") return Ping{r.number("request")};
  if (type == "Pong") return Pong{r.number("request")};
  if (type == "StoreKeys") return StoreKeys{r.pairs("items")};
  if (type == "Put") {
    auto list = r.pairs("items");
    if (list.size() != 1) throw WireError("chord message: Put carries exactly one item");
    return Put{r.number("request"), std::move(list.front())};
  }
  if (type == "PutAck") return PutAck{r.number("request")};
  if (type == "Fetch") return Fetch{r.number("request"), r.number("key")};
  if (type == "FetchReply") {
    const json& v = r.at("value");
    if (!v.is_null() && !v.is_string()) throw WireError("chord message: field 'value' is not a string");
    return FetchReply{r.number("request"), v.is_null() ? std::nullopt : std::optional<std::string>(v.get<std::string>())};
  }
  if (type == "Leaving") return Leaving{r.maybe_node("predecessor"), r.nodes("successors")};
  throw WireError("chord message: unknown type '" + type + "'");
}

}  // namespace

std::string encode_envelope(const Envelope& envelope, std::string_view reply_to) {
  json out = json::object();
  if (!reply_to.empty()) out["reply_to"] = std::string(reply_to);
  out["from"] = ref(envelope.from);
  out["to"] = ref(envelope.to);
  out["type"] = message_name(envelope.body);
  write_body(out, envelope.body);
  const std::vector<std::uint8_t> bytes = json::to_msgpack(out);
  return std::string(bytes.begin(), bytes.end());
}

Envelope decode_envelope(std::string_view bytes, std::string* reply_to) {
  json in;
  try {
    in = json::from_msgpack(bytes.begin(), bytes.end());
  } catch (const json::exception& e) {
    throw WireError(std::string("chord message: not MessagePack: ") + e.what());
  }
  if (!in.is_object()) throw WireError("chord message: expected a map");
  const Reader r(in);
  const json& type = r.at("type");
  if (!type.is_string()) throw WireError("chord message: field 'type' is not a string");
  if (reply_to != nullptr) {
    reply_to->clear();
    if (in.contains("reply_to")) {
      if (!in["reply_to"].is_string()) throw WireError("chord message: field 'reply_to' is not a string");
      *reply_to = in["reply_to"].get<std::string>();
    }
  }
  return Envelope{r.node("from"), r.node("to"), read_body(type.get<std::string>(), r)};
}

}  // namespace homestead::dht
