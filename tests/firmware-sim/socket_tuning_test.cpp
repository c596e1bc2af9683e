#include "firmware-sim/socket_tuning.h"

#include <gtest/gtest.h>

namespace homestead::firmware {
namespace {

TEST(SocketTuning, ParsesPahoConnectTraceLines) {
  int fd = -1;
  std::string id;
  ASSERT_TRUE(PahoSockets::parse_connect_line("19700101 000000.000 17 default-hall_light -> CONNECT version 4 clean: 1 (0)", fd, id));
  EXPECT_EQ(fd, 17);
  EXPECT_EQ(id, "default-hall_light");
  EXPECT_FALSE(PahoSockets::parse_connect_line("19700101 000000.000 17 x -> PUBLISH msgid: 1 qos: 1", fd, id));
  EXPECT_FALSE(PahoSockets::parse_connect_line("19700101 000000.000 17 x <- CONNACK rc: 0", fd, id));
  EXPECT_FALSE(PahoSockets::parse_connect_line("garbage -> CONNECT ", fd, id));
  EXPECT_FALSE(PahoSockets::parse_connect_line("a b c1 x -> CONNECT version 4", fd, id)) << "fd must be numeric";
}

TEST(SocketTuning, ParsesBrokerAddresses) {
  BrokerAddress a;
  ASSERT_TRUE(parse_broker("127.0.0.1:1883", a));
  EXPECT_EQ(a.host, "127.0.0.1");
  EXPECT_EQ(a.port, 1883);
  ASSERT_TRUE(parse_broker("tcp://broker.local:8883", a));
  EXPECT_EQ(a.host, "broker.local");
  EXPECT_EQ(a.port, 8883);
  EXPECT_FALSE(parse_broker("nowhere", a));
  EXPECT_FALSE(parse_broker("host:", a));
  EXPECT_FALSE(parse_broker("host:99999", a));
  EXPECT_FALSE(parse_broker(":1883", a));
  EXPECT_FALSE(parse_broker("host:12ab", a));
}

}  // namespace
}  // namespace homestead::firmware
