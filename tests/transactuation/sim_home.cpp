#include "tests/transactuation/sim_home.h"

#include <cstdio>
#include <stdexcept>

namespace homestead::transactuation::simhome {

std::string to_string(const Message& message) {
  return std::visit(
      [](const auto& body) -> std::string {
        using T = std::decay_t<decltype(body)>;
        if constexpr (std::is_same_v<T, Command>) return "cmd " + body.device + " " + body.cmd_id + " seq " + std::to_string(body.seq);
        if constexpr (std::is_same_v<T, Ack>) return "ack " + body.device + " " + body.cmd_id + (body.ok ? " ok" : " error " + body.reason);
        if constexpr (std::is_same_v<T, StatusQuery>) return "status? " + body.device + " " + body.cmd_id;
        if constexpr (std::is_same_v<T, StatusReply>) return std::string("status ") + body.cmd_id + " " + transactuation::to_string(body.status);
        if constexpr (std::is_same_v<T, Reading>) return "reading " + body.device + "." + body.attribute + "=" + body.value.dump();
        if constexpr (std::is_same_v<T, ApiTrigger>) return "trigger " + body.app;
        return "?";
      },
      message.body);
}

sim::NodeId World::node_of(const std::string& device) const {
  for (std::size_t i = 0; i < devices.size(); ++i) {
    if (devices[i] == device) return static_cast<sim::NodeId>(i + 1);
  }
  throw std::out_of_range("simhome: unknown device " + device);
}

// ---- intent log on the simulated disk ----

static std::string log_key(std::uint64_t index) {
  char key[32];
  std::snprintf(key, sizeof key, "log/%016llu", static_cast<unsigned long long>(index));
  return key;
}

DiskIntentLog::DiskIntentLog(std::function<sim::Disk&()> disk) : disk_(std::move(disk)) {
  // After a compaction the keys are sparse: continue after the last one, never reuse one.
  const auto keys = disk_().keys("log/");
  if (!keys.empty()) next_index_ = std::stoull(keys.back().substr(4)) + 1;
}

std::uint64_t DiskIntentLog::compact(const LogRecord& checkpoint, const std::set<TxnId>& open) {
  const auto before = disk_().keys("log/");
  append({checkpoint});
  disk_().sync();
  if (after_step) after_step();
  std::uint64_t reclaimed = 0;
  for (const auto& key : before) {
    const std::string text = *disk_().get(key);
    if (!droppable_before_checkpoint(decode_log_record(text), open)) continue;
    disk_().put("archive/" + key.substr(4), text);
    disk_().erase(key);
    disk_().sync();
    reclaimed += text.size();
    if (after_step) after_step();
  }
  return reclaimed;
}

std::vector<LogRecord> DiskIntentLog::load_with_archive(const sim::Disk& disk) {
  std::map<std::string, std::string> by_index;
  for (const auto& key : disk.keys("archive/")) by_index[key.substr(8)] = *disk.get(key);
  for (const auto& key : disk.keys("log/")) by_index[key.substr(4)] = *disk.get(key);
  std::vector<LogRecord> records;
  for (const auto& [index, text] : by_index) records.push_back(decode_log_record(text));
  return records;
}

void DiskIntentLog::append(const std::vector<LogRecord>& records) {
  for (const auto& record : records) disk_().put(log_key(next_index_++), encode_log_record(record));
}

std::vector<LogRecord> DiskIntentLog::load_from(const sim::Disk& disk) {
  std::vector<LogRecord> records;
  for (const auto& key : disk.keys("log/")) records.push_back(decode_log_record(*disk.get(key)));
  return records;
}

std::vector<LogRecord> DiskIntentLog::load() { return load_from(disk_()); }

// ---- gateway ----

void GatewayProcess::start(sim::Context<Message>& ctx) {
  ctx_ = &ctx;
  ++world_.history.gateway_boots;
  // A boot epoch on disk keeps transactuation ids unique across crashes even when the
  // records of the previous incarnation's last transactuations were never synced.
  const auto stored = ctx.disk().get("epoch");
  const std::uint64_t epoch = (stored ? std::stoull(*stored) : 0) + 1;
  ctx.disk().put("epoch", std::to_string(epoch));
  ctx.disk().sync();
  RuntimeOptions options;
  options.first_txn_id = (epoch << 32) | 1;
  options.status_query_timeout = 200 * kMillisecond;
  runtime_ = std::make_unique<Runtime>(options);
  for (const auto& app : world_.apps) runtime_->install(app);
  log_ = std::make_unique<DiskIntentLog>([this]() -> sim::Disk& { return ctx_->disk(); });
  driver_ = std::make_unique<Driver>(*runtime_, *log_, *this, world_.flush_interval,
                                     [this](const TransactuationRecord& r) { world_.history.finished.push_back(r); });
  driver_->recover(ctx.now());
  ctx.set_timer(world_.tick_period);
  ctx_ = nullptr;
}

void GatewayProcess::receive(sim::Context<Message>& ctx, sim::NodeId, const Message& message) {
  ctx_ = &ctx;
  const Time now = ctx.now();
  if (const auto* reading = std::get_if<Reading>(&message.body)) {
    Reading received = *reading;
    received.received_time = now;
    runtime_->on_reading(received, now);
  } else if (const auto* ack = std::get_if<Ack>(&message.body)) {
    runtime_->on_ack(*ack, now);
  } else if (const auto* reply = std::get_if<StatusReply>(&message.body)) {
    runtime_->on_status(*reply, now);
  } else if (const auto* trigger = std::get_if<ApiTrigger>(&message.body)) {
    runtime_->trigger(trigger->app, Json::object(), now);
  }
  driver_->pump(now);
  ctx_ = nullptr;
}

void GatewayProcess::timer(sim::Context<Message>& ctx, sim::TimerId, std::uint64_t) {
  ctx_ = &ctx;
  runtime_->tick(ctx.now());
  driver_->pump(ctx.now());
  if (world_.compact_every_ticks > 0 && ++ticks_ % world_.compact_every_ticks == 0) {
    world_.bytes_reclaimed += driver_->compact(ctx.now());
  }
  ctx.set_timer(world_.tick_period);
  ctx_ = nullptr;
}

void GatewayProcess::send(const Command& command) { ctx_->send(world_.node_of(command.device), Message{command}); }
void GatewayProcess::query(const StatusQuery& query) { ctx_->send(world_.node_of(query.device), Message{query}); }

// ---- devices ----

void DeviceProcess::start(sim::Context<Message>& ctx) {
  ctx.set_timer(ctx.rng().uniform(1, world_.reading_period));
}

const DeviceProcess::Remembered* DeviceProcess::recall(const std::string& cmd_id) const {
  for (const auto& entry : memory_) {
    if (entry.cmd_id == cmd_id) return &entry;
  }
  return nullptr;
}

void DeviceProcess::remember(Remembered entry) {
  memory_.push_back(std::move(entry));
  while (memory_.size() > faults().cmd_memory) memory_.pop_front();
}

void DeviceProcess::receive(sim::Context<Message>& ctx, sim::NodeId from, const Message& message) {
  if (faults().offline) return;
  const std::string& name = world_.devices.at(index_);
  if (const auto* command = std::get_if<Command>(&message.body)) {
    if (const Remembered* earlier = recall(command->cmd_id)) {
      ctx.send(from, Message{Ack{name, command->cmd_id, earlier->ok, earlier->reason}});
      return;
    }
    Remembered entry{command->cmd_id, false, ""};
    if (command->seq <= last_seq_) {
      entry.reason = "stale";  // overtaken by a later command or fenced by a status query
    } else if (ctx.rng().chance(faults().fail)) {
      entry.reason = "jammed";
      last_seq_ = command->seq;
    } else {
      entry.ok = true;
      last_seq_ = command->seq;
      world_.history.executions.push_back(Execution{name, command->cmd_id, command->seq, command->txn, ctx.now()});
    }
    remember(entry);
    ctx.send(from, Message{Ack{name, command->cmd_id, entry.ok, entry.reason}});
  } else if (const auto* query = std::get_if<StatusQuery>(&message.body)) {
    StatusReply reply{name, query->cmd_id, CommandStatus::unknown, ""};
    if (const Remembered* earlier = recall(query->cmd_id)) {
      reply.status = earlier->ok ? CommandStatus::ok : CommandStatus::error;
      reply.reason = earlier->reason;
    } else {
      last_seq_ = std::max(last_seq_, query->seq);  // fence: it can never run now
    }
    ctx.send(from, Message{reply});
  }
}

void DeviceProcess::timer(sim::Context<Message>& ctx, sim::TimerId, std::uint64_t) {
  ctx.set_timer(world_.reading_period);
  if (faults().offline || !world_.readings_on) return;
  Reading reading;
  reading.device = world_.devices.at(index_);
  reading.attribute = "level";
  reading.value = faults().failing_sensor ? Json() : Json(static_cast<double>(ctx.rng().uniform(0, 100)));
  reading.device_time = std::max<sim::Time>(1, ctx.now() - faults().stale_by);
  ctx.send(0, Message{reading});
}

void populate(sim::Simulator<Message>& sim, World& world) {
  world.faults.resize(world.devices.size());
  sim.add_node([&world](sim::NodeId) { return std::make_unique<GatewayProcess>(world); });
  for (std::size_t i = 0; i < world.devices.size(); ++i) {
    sim.add_node([&world, i](sim::NodeId) { return std::make_unique<DeviceProcess>(world, i); });
  }
}

}  // namespace homestead::transactuation::simhome
