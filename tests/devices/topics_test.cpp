#include "devices/topics.h"

#include <gtest/gtest.h>

namespace homestead::devices {
namespace {

TEST(Topics, SchemeFromDesign) {
  EXPECT_EQ(device_topic("default", "hall_light", Channel::state), "homestead/default/hall_light/state");
  EXPECT_EQ(device_topic("h", "d", Channel::cmd), "homestead/h/d/cmd");
  EXPECT_EQ(device_topic("h", "d", Channel::ack), "homestead/h/d/ack");
  EXPECT_EQ(device_topic("h", "d", Channel::status), "homestead/h/d/status");
  EXPECT_EQ(home_wildcard("h", Channel::state), "homestead/h/+/state");
  EXPECT_TRUE(channel_retained(Channel::state));
  EXPECT_TRUE(channel_retained(Channel::status));
  EXPECT_FALSE(channel_retained(Channel::cmd));
  EXPECT_FALSE(channel_retained(Channel::ack));
}

TEST(Topics, ParseIsTheInverse) {
  auto p = parse_topic("homestead/default/front_door_lock/ack");
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->home, "default");
  EXPECT_EQ(p->device, "front_door_lock");
  EXPECT_EQ(p->channel, Channel::ack);
  for (const char* bad : {"homestead/default/x", "homestead/default/x/state/more", "other/default/x/state",
                          "homestead/default/x/config", "homestead//x/state", "homestead/De/x/state"}) {
    EXPECT_FALSE(parse_topic(bad).has_value()) << bad;
  }
}

TEST(Topics, ValidIds) {
  EXPECT_TRUE(valid_id("kitchen_plug-2"));
  EXPECT_FALSE(valid_id(""));
  EXPECT_FALSE(valid_id("Kitchen"));
  EXPECT_FALSE(valid_id("a/b"));
  EXPECT_FALSE(valid_id("a+"));
  EXPECT_FALSE(valid_id(std::string(49, 'a')));
}

TEST(Topics, DeviceAclConfinesToOwnTopics) {
  auto rules = device_acl("h", "lamp", "light");
  ASSERT_EQ(rules.size(), 5u);
  int reads = 0;
  for (const auto& r : rules) {
    EXPECT_TRUE(r.topic.find("lamp") != std::string::npos) << r.topic;
    EXPECT_EQ(r.topic.find('#'), std::string::npos) << "no wildcards: " << r.topic;
    EXPECT_EQ(r.topic.find('+'), std::string::npos) << "no wildcards: " << r.topic;
    if (r.access == AclRule::Access::read) {
      ++reads;
      EXPECT_EQ(r.topic, "homestead/h/lamp/cmd");
    }
  }
  EXPECT_EQ(reads, 1);
}

}  // namespace
}  // namespace homestead::devices
