#include "cloud/snapshot/live_report.h"

#include <algorithm>
#include <set>
#include <stdexcept>

namespace homestead::snapshot {
namespace {

using nlohmann::json;

const json& required(const json& object, const char* name, const std::string& path) {
  if (!object.is_object() || !object.contains(name)) {
    throw std::invalid_argument("field '" + path + name + "' is required");
  }
  return object.at(name);
}

std::uint64_t number(const json& object, const char* name, const std::string& path) {
  const json& value = required(object, name, path);
  if (!value.is_number_unsigned()) throw std::invalid_argument("field '" + path + name + "': expected an unsigned integer");
  return value.get<std::uint64_t>();
}

// A sorted list of seqs; absent means none (parts from before lost/late existed).
std::vector<std::uint64_t> seq_list(const json& object, const char* name, const std::string& path) {
  std::vector<std::uint64_t> seqs;
  if (!object.contains(name)) return seqs;
  const json& list = object.at(name);
  if (!list.is_array()) throw std::invalid_argument("field '" + path + name + "': expected an array of seqs");
  for (const auto& seq : list) {
    if (!seq.is_number_unsigned()) throw std::invalid_argument("field '" + path + name + "[]': expected an unsigned integer");
    seqs.push_back(seq.get<std::uint64_t>());
  }
  std::sort(seqs.begin(), seqs.end());
  return seqs;
}

bool flag(const json& object, const char* name, const std::string& path) {
  const json& value = required(object, name, path);
  if (!value.is_boolean()) throw std::invalid_argument("field '" + path + name + "': expected true or false");
  return value.get<bool>();
}

// The recorded state as JSON (the adapters record JSON text; anything else as a string).
json state_json(const LiveLocal& local) {
  json state = json::parse(local.state, nullptr, false);
  if (state.is_discarded()) return local.state;
  return state;
}

}  // namespace

json to_json(const LiveLocal& local) {
  json channels = json::object();
  for (const auto& [from, channel] : local.incoming) {
    json in_flight = json::array();
    for (const auto& m : channel.in_flight) in_flight.push_back({{"seq", m.seq}, {"kind", m.kind}, {"bytes", m.bytes}});
    channels[from] = {{"cut_known", channel.cut_known},
                      {"sender_cut_seq", channel.sender_cut_seq},
                      {"received_before_cut", channel.received_before_cut},
                      {"max_seq_before_cut", channel.max_seq_before_cut},
                      {"in_flight", std::move(in_flight)},
                      {"closed", channel.closed},
                      {"sender_restarted", channel.sender_restarted},
                      {"lost", channel.lost},
                      {"late", channel.late}};
  }
  return {{"id", std::to_string(local.id)}, {"process", local.process},       {"state", state_json(local)},
          {"complete", local.complete},     {"sent_through", local.sent_through}, {"incoming", std::move(channels)}};
}

LiveLocal live_local_from_json(const json& in) {
  LiveLocal local;
  const json& id = required(in, "id", "");
  if (!id.is_string()) throw std::invalid_argument("field 'id': expected a decimal string");
  try {
    local.id = std::stoull(id.get<std::string>());
  } catch (const std::exception&) {
    throw std::invalid_argument("field 'id': expected a decimal string");
  }
  const json& process = required(in, "process", "");
  if (!process.is_string()) throw std::invalid_argument("field 'process': expected a string");
  local.process = process.get<std::string>();
  const json& state = required(in, "state", "");
  local.state = state.is_string() ? state.get<std::string>() : state.dump();
  local.complete = flag(in, "complete", "");
  const json& sent = required(in, "sent_through", "");
  if (!sent.is_object()) throw std::invalid_argument("field 'sent_through': expected an object");
  for (const auto& [to, seq] : sent.items()) {
    if (!seq.is_number_unsigned()) throw std::invalid_argument("field 'sent_through." + to + "': expected an unsigned integer");
    local.sent_through[to] = seq.get<std::uint64_t>();
  }
  const json& incoming = required(in, "incoming", "");
  if (!incoming.is_object()) throw std::invalid_argument("field 'incoming': expected an object");
  for (const auto& [from, channel] : incoming.items()) {
    const std::string path = "incoming." + from + ".";
    ChannelRecord record;
    record.cut_known = flag(channel, "cut_known", path);
    record.sender_cut_seq = number(channel, "sender_cut_seq", path);
    record.received_before_cut = number(channel, "received_before_cut", path);
    record.max_seq_before_cut = number(channel, "max_seq_before_cut", path);
    record.closed = flag(channel, "closed", path);
    record.sender_restarted = flag(channel, "sender_restarted", path);
    record.lost = seq_list(channel, "lost", path);
    record.late = seq_list(channel, "late", path);
    const json& in_flight = required(channel, "in_flight", path);
    if (!in_flight.is_array()) throw std::invalid_argument("field '" + path + "in_flight': expected an array");
    for (const auto& m : in_flight) {
      const json& kind = required(m, "kind", path + "in_flight[].");
      record.in_flight.push_back(InFlightMessage{number(m, "seq", path + "in_flight[]."),
                                                 kind.is_string() ? kind.get<std::string>() : kind.dump(),
                                                 number(m, "bytes", path + "in_flight[].")});
    }
    local.incoming[from] = std::move(record);
  }
  return local;
}

std::vector<std::string> check_live_cut(const std::map<ProcessId, LiveLocal>& parts) {
  std::vector<std::string> violations;
  for (const auto& [receiver, local] : parts) {
    for (const auto& [sender, channel] : local.incoming) {
      auto sender_part = parts.find(sender);
      if (sender_part == parts.end() || !channel.closed || channel.sender_restarted) continue;
      const std::string name = sender + "->" + receiver + ": ";
      auto sent = sender_part->second.sent_through.find(receiver);
      if (sent == sender_part->second.sent_through.end()) {
        violations.push_back(name + "the sender recorded no cut for this channel");
        continue;
      }
      const std::uint64_t cut = sent->second;
      if (channel.sender_cut_seq != cut) {
        violations.push_back(name + "receiver learnt cut seq " + std::to_string(channel.sender_cut_seq) +
                             ", sender recorded " + std::to_string(cut));
      }
      if (channel.received_before_cut + channel.in_flight.size() + channel.lost.size() != cut) {
        violations.push_back(name + "received before cut (" + std::to_string(channel.received_before_cut) +
                             ") + in flight (" + std::to_string(channel.in_flight.size()) + ") + lost (" +
                             std::to_string(channel.lost.size()) + ") != sent before cut (" + std::to_string(cut) + ")");
      }
      if (channel.max_seq_before_cut > cut) {
        violations.push_back(name + "orphan: seq " + std::to_string(channel.max_seq_before_cut) +
                             " received before the receiver's cut was sent after the sender's (cut " +
                             std::to_string(cut) + ")");
      }
      std::set<std::uint64_t> seqs;
      for (const auto& m : channel.in_flight) {
        if (m.seq == 0 || m.seq > cut) {
          violations.push_back(name + "in-flight seq " + std::to_string(m.seq) + " lies outside the sender's cut");
        }
        if (!seqs.insert(m.seq).second) violations.push_back(name + "in-flight seq " + std::to_string(m.seq) + " twice");
      }
      std::set<std::uint64_t> lost;
      for (std::uint64_t seq : channel.lost) {
        if (seq == 0 || seq > cut) violations.push_back(name + "lost seq " + std::to_string(seq) + " lies outside the sender's cut");
        if (seqs.count(seq)) violations.push_back(name + "seq " + std::to_string(seq) + " both lost and in flight");
        if (!lost.insert(seq).second) violations.push_back(name + "lost seq " + std::to_string(seq) + " twice");
      }
      for (std::uint64_t seq : channel.late) {
        if (!lost.count(seq)) violations.push_back(name + "late seq " + std::to_string(seq) + " was not recorded as lost");
      }
    }
  }
  return violations;
}

std::vector<std::string> check_sync_positions(const std::map<ProcessId, LiveLocal>& parts) {
  std::vector<std::string> violations;
  const std::string prefix = "gateway:";
  std::map<ProcessId, json> member_states;  // parsed once, not once per gateway
  for (const auto& [member, part] : parts) {
    if (member.rfind(prefix, 0) != 0) member_states.emplace(member, json::parse(part.state, nullptr, false));
  }
  for (const auto& [process, gateway_part] : parts) {
    if (process.rfind(prefix, 0) != 0) continue;
    const json state = json::parse(gateway_part.state, nullptr, false);
    if (!state.is_object() || !state.contains("pushed_through") || !state.contains("acked_through")) {
      violations.push_back(process + ": state lacks pushed_through/acked_through");
      continue;
    }
    const std::uint64_t pushed = state["pushed_through"].get<std::uint64_t>();
    const std::uint64_t acked = state["acked_through"].get<std::uint64_t>();
    const std::string key = process.substr(prefix.size());
    std::uint64_t most_applied = 0;
    bool seen = false;
    for (const auto& [member, cloud] : member_states) {
      if (!cloud.is_object() || !cloud.contains("sync") || !cloud["sync"].contains(key)) continue;
      const std::uint64_t applied = cloud["sync"][key].get<std::uint64_t>();
      seen = true;
      most_applied = std::max(most_applied, applied);
      if (applied > pushed) {
        violations.push_back(member + " applied " + process + " through seq " + std::to_string(applied) +
                             " but the gateway had pushed only through " + std::to_string(pushed) + " at its cut");
      }
    }
    if (acked > 0 && (!seen || most_applied < acked)) {
      violations.push_back(process + " was acknowledged through seq " + std::to_string(acked) +
                           " but no member had applied that much at its cut (most: " + std::to_string(most_applied) + ")");
    }
  }
  return violations;
}

json global_report(SnapshotId id, const std::map<ProcessId, LiveLocal>& parts,
                   const std::map<ProcessId, std::string>& missing) {
  bool complete = missing.empty() && !parts.empty();
  json participants = json::object();
  json channels = json::array();
  std::uint64_t in_flight_total = 0;
  std::uint64_t lost_total = 0;
  for (const auto& [process, local] : parts) {
    complete = complete && local.complete;
    participants[process] = {{"state", state_json(local)},
                             {"complete", local.complete},
                             {"sent_through", local.sent_through}};
    for (const auto& [from, channel] : local.incoming) {
      json messages = json::array();
      for (const auto& m : channel.in_flight) messages.push_back({{"seq", m.seq}, {"kind", m.kind}, {"bytes", m.bytes}});
      in_flight_total += channel.in_flight.size();
      lost_total += channel.lost.size();
      channels.push_back({{"from", from},
                          {"to", process},
                          {"closed", channel.closed},
                          {"sender_cut_seq", channel.sender_cut_seq},
                          {"received_before_cut", channel.received_before_cut},
                          {"sender_restarted", channel.sender_restarted},
                          {"in_flight", std::move(messages)},
                          {"lost", channel.lost},
                          {"late", channel.late}});
    }
  }
  auto violations = check_live_cut(parts);
  for (auto& v : check_sync_positions(parts)) violations.push_back(std::move(v));
  return {{"id", std::to_string(id)},
          {"status", complete ? "complete" : "running"},
          {"participants", std::move(participants)},
          {"channels", std::move(channels)},
          {"missing", missing},
          {"consistency",
           {{"consistent", violations.empty()}, {"violations", std::move(violations)}, {"in_flight_messages", in_flight_total},
            {"lost_messages", lost_total}}}};
}

}  // namespace homestead::snapshot
