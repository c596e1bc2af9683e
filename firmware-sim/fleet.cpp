#include "firmware-sim/fleet.h"

#include <mqtt/async_client.h>

#include <algorithm>
#include <chrono>
#include <limits>

#include "devices/discovery.h"
#include "devices/topics.h"

namespace homestead::firmware {

using devices::Channel;

std::int64_t unix_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

namespace {

constexpr std::int64_t kEnvironmentPeriodMs = 200;

class ConnectListener : public mqtt::iaction_listener {
 public:
  std::function<void(bool)> done;

 private:
  void on_success(const mqtt::token&) override { done(true); }
  void on_failure(const mqtt::token&) override { done(false); }
};

}  // namespace

struct Fleet::Slot {
  std::unique_ptr<Firmware> firmware;
  std::unique_ptr<mqtt::async_client> client;
  ConnectListener listener;
  std::string topics[4];  // indexed by Channel
  std::string discovery_topic;
  std::string username;
  std::string client_id;
  bool warned_connect = false;
};

Fleet::Fleet(const devices::Home& home, FleetOptions options)
    : home_(home), options_(std::move(options)), environment_(home, options_.seed) {
  PahoSockets::install();
  const std::string uri = "tcp://" + options_.broker.host + ":" + std::to_string(options_.broker.port);
  sim::Rng seeds(options_.seed);
  for (std::size_t i = 0; i < home.devices.size(); ++i) {
    const auto& d = home.devices[i];
    auto slot = std::make_unique<Slot>();
    slot->firmware = std::make_unique<Firmware>(home.id, d, options_.firmware, seeds.next());
    slot->client_id = home.id + "-" + d.id;
    // Paho's default max_buffered_messages (100) applies even while connected; a device
    // hammered with commands would see publish error -12 for its acks.
    slot->client = std::make_unique<mqtt::async_client>(uri, slot->client_id, mqtt::create_options(MQTTVERSION_3_1_1, 1000));
    for (Channel c : {Channel::state, Channel::cmd, Channel::ack, Channel::status}) {
      slot->topics[static_cast<int>(c)] = devices::device_topic(home.id, d.id, c);
    }
    slot->discovery_topic = devices::discovery_topic(*d.kind, home.id, d.id);
    slot->username = d.credentials;
    slot->client->set_message_callback([this, i](mqtt::const_message_ptr msg) {
      post([this, i, payload = msg->get_payload_str()](std::int64_t now) {
        ++counters_.commands_in;
        Output out;
        slots_[i]->firmware->command(now, payload, out);
        flush(i, out);
      });
    });
    slot->client->set_connection_lost_handler([this, i](const std::string&) {
      post([this, i](std::int64_t now) {
        ++counters_.connections_lost;
        if (slots_[i]->client->is_connected()) return;  // stale: a newer connection is up
        slots_[i]->firmware->connection_lost(now);
      });
    });
    slot->listener.done = [this, i](bool ok) {
      post([this, i, ok](std::int64_t now) {
        --connecting_;
        if (ok) {
          on_connected(i, now);
          return;
        }
        ++counters_.connect_failures;
        auto& s = *slots_[i];
        if (!s.warned_connect) {
          log_.warn("connect failed; retrying with backoff",
                    {{"device", s.firmware->description().id}, {"user", s.username}});
          s.warned_connect = true;
        }
        s.firmware->connect_failed(now);
      });
    };
    index_[d.id] = i;
    slots_.push_back(std::move(slot));
  }
}

Fleet::~Fleet() {
  // Paho's threads must not call into a half-destroyed Fleet.
  for (auto& slot : slots_) slot->client->disable_callbacks();
  slots_.clear();
}

void Fleet::post(std::function<void(std::int64_t)> event) {
  {
    std::lock_guard lock(mutex_);
    events_.push_back(std::move(event));
  }
  wake_.notify_one();
}

Firmware* Fleet::device(const std::string& id) {
  auto it = index_.find(id);
  return it == index_.end() ? nullptr : slots_[it->second]->firmware.get();
}

std::vector<Firmware*> Fleet::devices() {
  std::vector<Firmware*> out;
  for (auto& s : slots_) out.push_back(s->firmware.get());
  return out;
}

void Fleet::deliver(const std::string& id, Output& out) { flush(index_.at(id), out); }

void Fleet::trigger(const std::string& id, const std::string& event, std::int64_t now) {
  environment_.trigger(id, event, [&](const std::string& dev, const std::string& cap, const nlohmann::json& value) {
    Output out;
    device(dev)->sense(now, cap, value, out);
    deliver(dev, out);
  });
}

void Fleet::start_connect(std::size_t i, std::int64_t now) {
  auto& s = *slots_[i];
  const auto& d = s.firmware->description();
  auto will = mqtt::message(s.topics[static_cast<int>(Channel::status)], std::string(devices::kOffline), devices::kQos, true);
  auto opts = mqtt::connect_options_builder()
                  .mqtt_version(MQTTVERSION_3_1_1)
                  .clean_session(true)
                  .keep_alive_interval(std::chrono::seconds(options_.keep_alive_s))
                  .connect_timeout(std::chrono::seconds(5))
                  .user_name(s.username)
                  .password(options_.credentials.at(d.credentials))
                  .will(std::move(will))
                  .automatic_reconnect(false)  // the firmware core owns reconnect and backoff
                  .finalize();
  s.firmware->connect_started(now);
  ++connecting_;
  try {
    s.client->connect(opts, nullptr, s.listener);
  } catch (const mqtt::exception& e) {
    --connecting_;
    ++counters_.connect_failures;
    s.firmware->connect_failed(now);
  }
}

void Fleet::on_connected(std::size_t i, std::int64_t now) {
  auto& s = *slots_[i];
  ++counters_.connects;
  s.warned_connect = false;
  if (s.firmware->link() != LinkState::connecting) {
    // Told to go offline while the connect was in flight: cut it again at once.
    PahoSockets::cut(s.client_id);
    return;
  }
  try {
    s.client->subscribe(s.topics[static_cast<int>(Channel::cmd)], devices::kQos);
  } catch (const mqtt::exception&) {
    ++counters_.publish_errors;
  }
  Output out;
  s.firmware->connected(now, out);
  flush(i, out);
}

void Fleet::flush(std::size_t i, Output& out) {
  auto& s = *slots_[i];
  for (auto& p : out.publishes) {
    const std::string& topic = p.discovery ? s.discovery_topic : s.topics[static_cast<int>(p.channel)];
    const bool retained = p.discovery || devices::channel_retained(p.channel);
    try {
      s.client->publish(topic, p.payload.data(), p.payload.size(), devices::kQos, retained);
      ++counters_.published;
    } catch (const mqtt::exception&) {
      ++counters_.publish_errors;  // not connected, or Paho's buffer is full
    }
  }
  out.publishes.clear();
  if (out.drop_connection) {
    out.drop_connection = false;
    if (!PahoSockets::cut(s.client_id)) {
      ++counters_.hard_cuts_failed;
      // Without the socket we cannot make the broker fire the LWT; say so, then close cleanly.
      log_.warn("could not cut the device's socket; disconnecting cleanly (no LWT)", {{"device", s.firmware->description().id}});
      try {
        s.client->publish(s.topics[static_cast<int>(Channel::status)], std::string(devices::kOffline), devices::kQos, true);
        s.client->disconnect(0);
      } catch (const mqtt::exception&) {
      }
    }
  }
}

void Fleet::step_environment(std::int64_t now) {
  const auto sim_ms = static_cast<std::int64_t>(static_cast<double>(now - started_ms_) * options_.speed);
  environment_.advance_to(
      sim_ms,
      [this](const std::string& id) -> const nlohmann::json* {
        Firmware* fw = device(id);
        return fw ? &fw->state() : nullptr;
      },
      [&](const std::string& id, const std::string& cap, const nlohmann::json& value) {
        Output out;
        device(id)->sense(now, cap, value, out);
        deliver(id, out);
      });
}

nlohmann::json Fleet::summary(std::int64_t now) const {
  std::size_t online = 0;
  for (const auto& s : slots_) online += s->firmware->link() == LinkState::connected;
  return {{"devices", slots_.size()},
          {"online", online},
          {"published", counters_.published},
          {"publish_errors", counters_.publish_errors},
          {"commands_in", counters_.commands_in},
          {"connects", counters_.connects},
          {"connect_failures", counters_.connect_failures},
          {"connections_lost", counters_.connections_lost},
          {"hard_cuts_failed", counters_.hard_cuts_failed},
          {"nodelay_sockets", PahoSockets::nodelay_count()},
          {"uptime_ms", now - started_ms_},
          {"sim_time_of_day_s", environment_.time_of_day_s()}};
}

std::string Fleet::summary_line(std::int64_t now) const {
  const auto j = summary(now);
  return "online " + j["online"].dump() + "/" + j["devices"].dump() + ", msgs out " + j["published"].dump() + " (+" +
         std::to_string(counters_.published - last_summary_counters_.published) + "), in " + j["commands_in"].dump() +
         " (+" + std::to_string(counters_.commands_in - last_summary_counters_.commands_in) + "), publish errors " +
         j["publish_errors"].dump() + ", connect failures " + j["connect_failures"].dump();
}

void Fleet::run(const std::atomic<bool>& stop) {
  started_ms_ = unix_ms();
  next_environment_ = started_ms_;
  next_summary_ = started_ms_ + options_.summary_interval_ms;
  constexpr std::int64_t kNever = std::numeric_limits<std::int64_t>::max();
  while (!stop.load()) {
    std::deque<std::function<void(std::int64_t)>> batch;
    {
      std::lock_guard lock(mutex_);
      batch.swap(events_);
    }
    for (auto& event : batch) event(unix_ms());
    const std::int64_t now = unix_ms();
    if (now >= next_environment_) {
      step_environment(now);
      next_environment_ = now + kEnvironmentPeriodMs;
    }
    std::int64_t wake = std::min(next_environment_, now + 500);
    for (std::size_t i = 0; i < slots_.size(); ++i) {
      auto& fw = *slots_[i]->firmware;
      if (fw.next_wakeup() <= now) {  // offline devices still finish actuations
        Output out;
        fw.tick(now, out);
        flush(i, out);
      }
      if (connecting_ < kMaxConnecting && fw.wants_connect(now)) start_connect(i, now);
      // A device waiting for its turn to connect is woken by the connect-finished event.
      const std::int64_t next = fw.next_wakeup();
      if (!(fw.link() == LinkState::disconnected && next <= now)) wake = std::min(wake, next);
    }
    if ((options_.summary_interval_ms > 0 && now >= next_summary_) || summary_requested_.exchange(false)) {
      log_.info(summary_line(now));
      last_summary_counters_ = counters_;
      next_summary_ = now + (options_.summary_interval_ms > 0 ? options_.summary_interval_ms : kNever / 2);
    }
    if (options_.summary_interval_ms > 0) wake = std::min(wake, next_summary_);
    std::unique_lock lock(mutex_);
    const auto delay = std::chrono::milliseconds(std::max<std::int64_t>(0, wake - unix_ms()));
    wake_.wait_for(lock, std::min(delay, std::chrono::milliseconds(100)), [&] { return !events_.empty() || stop.load(); });
  }
  shutdown();
}

void Fleet::shutdown() {
  // A clean stop says "offline" itself: the LWT only fires on an unclean loss. Wait for the
  // PUBACKs before disconnecting, or Paho may close with the publishes still queued.
  auto wait_all = [](std::vector<mqtt::token_ptr>& tokens) {
    for (auto& t : tokens) {
      try {
        t->wait_for(std::chrono::seconds(2));
      } catch (const mqtt::exception&) {
      }
    }
    tokens.clear();
  };
  std::vector<mqtt::token_ptr> tokens;
  for (auto& s : slots_) {
    if (!s->client->is_connected()) continue;
    try {
      tokens.push_back(
          s->client->publish(s->topics[static_cast<int>(Channel::status)], std::string(devices::kOffline), devices::kQos, true));
    } catch (const mqtt::exception&) {
    }
  }
  wait_all(tokens);
  for (auto& s : slots_) {
    if (!s->client->is_connected()) continue;
    try {
      tokens.push_back(s->client->disconnect(std::chrono::seconds(1)));
    } catch (const mqtt::exception&) {
    }
  }
  wait_all(tokens);
}

}  // namespace homestead::firmware
