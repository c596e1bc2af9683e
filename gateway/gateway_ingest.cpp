// Ingest: what gatewayd does with the messages its broker link hands over, one batch at a
// time on the link's ingest thread (mqtt_link.h, ingest_queue.h).
//
// Per batch: decode and apply every message to the state cache and the command tracker
// (under core_mutex_, a bounded chunk at a time so REST readers never wait long), then, in
// arrival order, feed the transactuation runtime, settle acked commands (fsynced), send
// commands waiting for a device that came online, and hand all readings to the batch writer
// in one push. Metrics are added once per batch. Keeping every message on one thread keeps
// a device's reports and acks in the order the broker delivered them.
#include <algorithm>
#include <array>
#include <atomic>
#include <cstdlib>

#include "common/log/log.h"
#include "gateway/gateway.h"

namespace homestead::gateway {
namespace {

const log::Logger logger("ingest");

constexpr std::string_view kSysPrefix = "$SYS/";
constexpr std::string_view kSysDropped = "$SYS/broker/publish/messages/dropped";
constexpr std::string_view kHaStatus = "homeassistant/status";
// Messages decoded per core_mutex_ hold: bounds how long a REST read can wait behind ingest.
constexpr std::size_t kMessagesPerLock = 128;

// Counts for one batch, added to the metrics at its end.
struct BatchCounts {
  double state = 0, ack = 0, status = 0, other = 0, ha_status = 0;
  std::array<double, 6> rejected{};  // by Rejection
};

}  // namespace

void Gateway::on_message(const std::string& topic, const std::string& payload) {
  on_messages({InboundMessage{nullptr, topic, payload}});
}

void Gateway::on_messages(const std::vector<InboundMessage>& batch) {
  // The ingest thread's scratch space, kept between batches so steady state allocates none.
  auto& results = ingest_results_;
  results.clear();
  results.resize(batch.size());
  const auto now = wall_ms();
  for (std::size_t begin = 0; begin < batch.size(); begin += kMessagesPerLock) {
    const std::size_t end = std::min(batch.size(), begin + kMessagesPerLock);
    std::lock_guard lock(core_mutex_);
    for (std::size_t i = begin; i < end; ++i) {
      const auto& m = batch[i];
      auto& out = results[i];
      if (m.topic.substr(0, kSysPrefix.size()) == kSysPrefix || m.topic == kHaStatus) {
        out.broker_topic = true;
        continue;
      }
      out.result = cache_.ingest(m.topic, m.payload, now);
      const auto& r = out.result;
      if (r.kind == IngestResult::Kind::ack) out.settled = tracker_.on_ack(r.device, *r.ack, now);
      // The runtime gets the decoded report as the cache now holds it (no second parse).
      if (r.kind == IngestResult::Kind::state && transactuations_) {
        if (const auto* d = cache_.find(r.device)) out.reported = d->reported;
      }
    }
  }

  BatchCounts counts;
  std::vector<Reading> readings;
  readings.reserve(batch.size());
  for (std::size_t i = 0; i < batch.size(); ++i) {
    const auto& m = batch[i];
    auto& out = results[i];
    if (out.broker_topic) {
      if (m.topic == kHaStatus) {
        counts.ha_status += 1;
        if (m.payload == "online") publish_all_discovery();
        continue;
      }
      const std::string text(m.payload);
      char* end = nullptr;
      const double v = std::strtod(text.c_str(), &end);
      if (end != text.c_str()) {
        metrics_.set(m.topic == kSysDropped ? "homestead_broker_messages_dropped" : "homestead_broker_clients_connected",
                     {}, v);
      }
      continue;
    }
    auto& r = out.result;
    if (r.send_waiting) send_pending(r.device);
    switch (r.kind) {
      case IngestResult::Kind::state:
        counts.state += 1;
        if (transactuations_) {
          // The decoded report feeds sensor triggers and sensing policies.
          transactuations_->on_report(r.device, out.reported, r.reading->device_ts_ms, r.reading->received_ms);
        }
        readings.push_back(std::move(*r.reading));
        break;
      case IngestResult::Kind::ack:
        counts.ack += 1;
        if (transactuations_ && r.ack) transactuations_->on_ack(r.device, *r.ack);
        if (out.settled) {
          persist_command(*out.settled);
          metrics_.add("homestead_commands_total",
                       out.settled->status == CommandStatus::acked ? "outcome=\"acked\"" : "outcome=\"failed\"");
        }
        break;
      case IngestResult::Kind::status:
        counts.status += 1;
        break;
      case IngestResult::Kind::ignored:
        counts.other += 1;
        break;
      case IngestResult::Kind::rejected: {
        counts.rejected[static_cast<std::size_t>(r.rejection)] += 1;
        // Rate-limited: a misbehaving device must not flood the log.
        static std::atomic<std::uint64_t> rejected{0};
        const auto n = ++rejected;
        if (n <= 20 || n % 1000 == 0) {
          logger.warn("rejected MQTT message", {{"topic", std::string(m.topic.substr(0, 200))},
                                                {"reason", std::string(rejection_name(r.rejection))},
                                                {"detail", r.detail},
                                                {"count", std::to_string(n)}});
        }
        break;
      }
    }
  }
  if (!readings.empty()) writer_->push_all(std::move(readings));

  constexpr const char* kIn = "homestead_mqtt_messages_in_total";
  if (counts.state > 0) metrics_.add(kIn, "channel=\"state\"", counts.state);
  if (counts.ack > 0) metrics_.add(kIn, "channel=\"ack\"", counts.ack);
  if (counts.status > 0) metrics_.add(kIn, "channel=\"status\"", counts.status);
  if (counts.other > 0) metrics_.add(kIn, "channel=\"other\"", counts.other);
  if (counts.ha_status > 0) metrics_.add(kIn, "channel=\"ha_status\"", counts.ha_status);
  for (std::size_t i = 0; i < counts.rejected.size(); ++i) {
    if (counts.rejected[i] == 0) continue;
    metrics_.add("homestead_mqtt_rejected_total",
                 "reason=\"" + std::string(rejection_name(static_cast<Rejection>(i))) + "\"", counts.rejected[i]);
  }
}

}  // namespace homestead::gateway
