// Unit (issue 10 item 4): how the gateway part of a live snapshot shows gatewayd's runtime
// (gateway/snapshot_agent.h runtime_state_json): open transactuations, per-device open
// commands from the three places they live, final counts, and the caps.
#include <gtest/gtest.h>

#include "gateway/snapshot_agent.h"

namespace homestead::gateway {
namespace {

using nlohmann::json;

OpenCommandView rest_command(const std::string& id, const std::string& device, const std::string& status,
                             std::int64_t since_ms) {
  return {id, device, "set", status, "api", since_ms, false};
}

TransactuationView unlock_run(std::uint64_t id, const std::string& cmd_id) {
  TransactuationView t;
  t.id = id;
  t.app = "fire_unlock";
  t.phase = "actuating";
  t.triggered_at_us = 5'000'000;
  t.devices = {{"front_door_lock", "exclusive"}, {"kitchen_smoke", "shared"}};
  t.state_keys = {"alarmActive"};
  t.actuations = 2;
  t.commands = {{cmd_id, "front_door_lock", "unlock", "sent", "transactuation:" + std::to_string(id), 6'000, false}};
  return t;
}

TEST(GatewayRuntimeState, ShowsOpenTransactuationsCommandsAndCounts) {
  RuntimeStateCopy copy;
  copy.open_commands = {rest_command("c2", "lamp", "pending", 2'000), rest_command("c1", "lamp", "sent", 1'000)};
  copy.open_commands_total = 2;
  copy.open_commands_pending = 1;
  OpenTransactuations open;
  open.items = {unlock_run(7, "t7-1")};
  open.total = 1;
  open.waiting_commands = {{"c3", "front_door_lock", "", "pending", "api", 7'000, true}};
  copy.transactuations = open;
  copy.final_counts["lamp"] = {4, 1, 2};
  copy.final_counts["siren"] = {1, 0, 0};

  const json state = runtime_state_json(copy);

  const json& txns = state["transactuations"];
  EXPECT_EQ(txns["open"], 1);
  EXPECT_EQ(txns["truncated"], 0);
  ASSERT_EQ(txns["items"].size(), 1u);
  const json& t = txns["items"][0];
  EXPECT_EQ(t["id"], 7);
  EXPECT_EQ(t["app"], "fire_unlock");
  EXPECT_EQ(t["phase"], "actuating");
  EXPECT_EQ(t["locks"], "held");
  EXPECT_EQ(t["triggered_at_us"], 5'000'000);
  EXPECT_EQ(t["devices"], json::parse(R"([{"device": "front_door_lock", "mode": "exclusive"},
                                          {"device": "kitchen_smoke", "mode": "shared"}])"));
  EXPECT_EQ(t["state_keys"], json::array({"alarmActive"}));
  EXPECT_EQ(t["actuations"], 2);
  ASSERT_EQ(t["open_commands"].size(), 1u);
  EXPECT_EQ(t["open_commands"][0]["command_id"], "t7-1");
  EXPECT_EQ(t["open_commands"][0]["device"], "front_door_lock");
  EXPECT_EQ(t["open_commands"][0]["status"], "sent");

  const json& commands = state["commands"];
  // Tracker: c2 pending, c1 sent; the actuation t7-1 sent; c3 pending behind the transactuation.
  EXPECT_EQ(commands["pending"], 2);
  EXPECT_EQ(commands["sent"], 2);
  EXPECT_EQ(commands["acked"], 5);
  EXPECT_EQ(commands["failed"], 1);
  EXPECT_EQ(commands["expired"], 2);
  EXPECT_EQ(commands["truncated"], 0);
  const json& lamp = commands["devices"]["lamp"];
  ASSERT_EQ(lamp["open"].size(), 2u);
  EXPECT_EQ(lamp["open"][0]["command_id"], "c1");  // oldest first
  EXPECT_EQ(lamp["open"][0]["status"], "sent");
  EXPECT_EQ(lamp["open"][1]["command_id"], "c2");
  EXPECT_EQ(lamp["acked"], 4);
  EXPECT_EQ(lamp["failed"], 1);
  EXPECT_EQ(lamp["expired"], 2);
  const json& lock = commands["devices"]["front_door_lock"];
  ASSERT_EQ(lock["open"].size(), 2u);
  EXPECT_EQ(lock["open"][0]["command_id"], "t7-1");
  EXPECT_EQ(lock["open"][0]["origin"], "transactuation:7");
  EXPECT_EQ(lock["open"][1]["command_id"], "c3");
  EXPECT_EQ(lock["open"][1]["waiting_for_device"], true);
  EXPECT_EQ(lock["acked"], 0);
  // A device with only final commands still shows its counts.
  EXPECT_EQ(commands["devices"]["siren"]["open"].size(), 0u);
  EXPECT_EQ(commands["devices"]["siren"]["acked"], 1);
}

TEST(GatewayRuntimeState, CapsListsAndCountsWhatWasLeftOut) {
  RuntimeStateCopy copy;
  for (int i = 0; i < 8; ++i) {
    copy.open_commands.push_back(rest_command("c" + std::to_string(i), "lamp", "pending", 100 - i));
  }
  copy.open_commands_total = 12;  // the tracker had more than it copied
  copy.open_commands_pending = 12;
  OpenTransactuations open;
  for (std::uint64_t id = 1; id <= 4; ++id) open.items.push_back(unlock_run(id, "t" + std::to_string(id)));
  open.total = 9;  // the runtime had more than it copied
  copy.transactuations = open;

  const json state = runtime_state_json(copy, 3);

  EXPECT_EQ(state["transactuations"]["open"], 9);
  EXPECT_EQ(state["transactuations"]["items"].size(), 3u);
  EXPECT_EQ(state["transactuations"]["truncated"], 6);
  const json& commands = state["commands"];
  // 8 copied + 4 actuations = 12 listed candidates, 3 kept; 4 never copied by the tracker.
  EXPECT_EQ(commands["truncated"], 12 - 3 + 4);
  std::size_t listed = 0;
  for (const auto& [device, entry] : commands["devices"].items()) listed += entry["open"].size();
  EXPECT_EQ(listed, 3u);
  // The oldest survive the cap: c7 (since 93), c6 (94), c5 (95).
  ASSERT_EQ(commands["devices"]["lamp"]["open"].size(), 3u);
  EXPECT_EQ(commands["devices"]["lamp"]["open"][0]["command_id"], "c7");
  EXPECT_EQ(commands["devices"]["lamp"]["open"][2]["command_id"], "c5");
  EXPECT_EQ(commands["pending"], 12);
  EXPECT_EQ(commands["sent"], 4);
}

TEST(GatewayRuntimeState, SaysWhyTransactuationsAreMissing) {
  RuntimeStateCopy copy;
  copy.transactuations_unavailable = "transactuations are disabled";
  const json state = runtime_state_json(copy);
  EXPECT_EQ(state["transactuations"], json({{"unavailable", "transactuations are disabled"}}));
  EXPECT_EQ(state["commands"]["pending"], 0);
  EXPECT_EQ(state["commands"]["devices"], json::object());
}

}  // namespace
}  // namespace homestead::gateway
