#include "gateway/metrics.h"

#include <cstdio>
#include <stdexcept>

namespace homestead::gateway {
namespace {

struct FamilySpec {
  const char* name;
  const char* type;
  const char* help;
};

constexpr FamilySpec kFamilies[] = {
    {"homestead_mqtt_messages_in_total", "counter", "MQTT messages received, by channel"},
    {"homestead_mqtt_messages_out_total", "counter", "MQTT messages published, by kind"},
    {"homestead_mqtt_rejected_total", "counter", "MQTT messages rejected, by reason"},
    {"homestead_mqtt_connected", "gauge", "1 while the broker link is up"},
    {"homestead_mqtt_connects_total", "counter", "successful broker (re)connects"},
    {"homestead_mqtt_connection_lost_total", "counter", "broker connections lost"},
    {"homestead_broker_messages_dropped", "gauge", "the broker's $SYS/broker/publish/messages/dropped"},
    {"homestead_broker_clients_connected", "gauge", "the broker's $SYS/broker/clients/connected"},
    {"homestead_commands_total", "counter", "command outcomes (accepted, sent, acked, failed, expired)"},
    {"homestead_transactuations_total", "counter", "finished transactuations by status and reason"},
    {"homestead_commands_open", "gauge", "commands pending or sent"},
    {"homestead_commands_pending", "gauge", "commands waiting to be sent"},
    {"homestead_command_holds_released_total", "counter",
     "REST commands that gave up their device's place in the transactuation order after commands.hold_max_ms"},
    {"homestead_readings_stored_total", "counter", "readings committed to SQLite"},
    {"homestead_readings_queue_depth", "gauge", "readings waiting for the next batch commit"},
    {"homestead_db_errors_total", "counter", "SQLite write failures"},
    {"homestead_http_requests_total", "counter", "REST requests, by status code"},
    {"homestead_http_rejected_total", "counter", "REST requests rejected, by reason"},
    {"homestead_http_slow_connections_closed_total", "counter", "REST connections closed because every worker was busy and they completed no request within http.read_timeout_ms"},
    {"homestead_devices", "gauge", "registered devices"},
    {"homestead_devices_online", "gauge", "devices whose status is online"},
    {"homestead_sync_connected", "gauge", "1 while the last call to the cloud succeeded"},
    {"homestead_sync_outbox_depth", "gauge", "sync outbox rows waiting for the cloud"},
    {"homestead_sync_outbox_oldest_age_seconds", "gauge", "age of the oldest sync outbox row"},
    {"homestead_sync_outbox_dropped", "gauge", "reported rows dropped by the outbox bound (durable count)"},
    {"homestead_sync_items_pushed_total", "counter", "outbox items the cloud confirmed applied"},
    {"homestead_sync_errors_total", "counter", "failed sync calls, by kind"},
    {"homestead_sync_conflicts_total", "counter", "conflicts between cloud desired and local changes, resolved"},
    {"homestead_leases_held", "gauge", "cloud leases on shared devices this gateway holds now"},
    {"homestead_lease_acquisitions_total", "counter", "shared-device leases newly granted to this gateway (renewals not counted)"},
    {"homestead_lease_refusals_total", "counter", "shared-device commands refused for want of the lease, by reason"},
};

std::string format_value(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.15g", v);
  return buf;
}

}  // namespace

Metrics::Metrics() {
  for (const auto& f : kFamilies) families_[f.name] = Family{f.type, f.help, {}};
}

Metrics::Family& Metrics::family(std::string_view name) {
  auto it = families_.find(name);
  if (it == families_.end()) throw std::logic_error("Metrics: undeclared family " + std::string(name));
  return it->second;
}

void Metrics::add(std::string_view name, std::string_view labels, double value) {
  std::lock_guard lock(mutex_);
  family(name).series[std::string(labels)] += value;
}

void Metrics::set(std::string_view name, std::string_view labels, double value) {
  std::lock_guard lock(mutex_);
  family(name).series[std::string(labels)] = value;
}

double Metrics::value(std::string_view name, std::string_view labels) const {
  std::lock_guard lock(mutex_);
  auto it = families_.find(name);
  if (it == families_.end()) return 0;
  auto s = it->second.series.find(std::string(labels));
  return s == it->second.series.end() ? 0 : s->second;
}

void Metrics::observe_db_write(double seconds) {
  std::lock_guard lock(mutex_);
  for (std::size_t i = 0; i < kBuckets.size(); ++i) {
    if (seconds <= kBuckets[i]) ++db_buckets_[i];
  }
  ++db_count_;
  db_sum_ += seconds;
}

std::string Metrics::render() const {
  std::lock_guard lock(mutex_);
  std::string out;
  for (const auto& [name, f] : families_) {
    out += "# HELP " + name + " " + f.help + "\n# TYPE " + name + " " + f.type + "\n";
    if (f.series.empty()) out += name + " 0\n";
    for (const auto& [labels, v] : f.series) {
      out += name + (labels.empty() ? "" : "{" + labels + "}") + " " + format_value(v) + "\n";
    }
  }
  const std::string h = "homestead_db_write_seconds";
  out += "# HELP " + h + " SQLite batch commit latency (fsynced)\n# TYPE " + h + " histogram\n";
  for (std::size_t i = 0; i < kBuckets.size(); ++i) {
    out += h + "_bucket{le=\"" + format_value(kBuckets[i]) + "\"} " + std::to_string(db_buckets_[i]) + "\n";
  }
  out += h + "_bucket{le=\"+Inf\"} " + std::to_string(db_count_) + "\n";
  out += h + "_sum " + format_value(db_sum_) + "\n" + h + "_count " + std::to_string(db_count_) + "\n";
  return out;
}

}  // namespace homestead::gateway
