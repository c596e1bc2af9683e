// Home id -> group through the ring: successor(SHA-1 prefix of "home/<id>").
#include "cloud/dht/home_directory.h"

#include <gtest/gtest.h>

#include "cloud/dht/sha1.h"

namespace homestead::dht {
namespace {

TEST(RingHomeDirectory, HomeGoesToTheGroupOfItsKeysSuccessor) {
  const IdSpace space(8);
  // Key = first byte of SHA-1("home/<id>"); computed here from the digest, not copied.
  const Id key = sha1("home/alpha")[0];
  EXPECT_EQ(home_key(space, "alpha"), key);
  // One position just at the key (owner), one just after, groups 7 and 9.
  const RingHomeDirectory at_key(space, {{key, 7}, {(key + 1) % 256, 9}});
  EXPECT_EQ(at_key.group_of("alpha"), 7u);
  // Only a position just before the key: ownership wraps round to it.
  const RingHomeDirectory wraps(space, {{(key + 255) % 256, 3}});
  EXPECT_EQ(wraps.group_of("alpha"), 3u);
  // Several positions of one group, as one Raft group hosting many ring positions.
  const RingHomeDirectory shared(space, {{(key + 1) % 256, 4}, {(key + 2) % 256, 4}, {(key + 3) % 256, 5}});
  EXPECT_EQ(shared.owner_position("alpha"), (key + 1) % 256);
  EXPECT_EQ(shared.group_of("alpha"), 4u);
  EXPECT_THROW(RingHomeDirectory(space, {}), std::invalid_argument);
  EXPECT_THROW(RingHomeDirectory(space, {{300, 1}}), std::invalid_argument);
}

}  // namespace
}  // namespace homestead::dht
