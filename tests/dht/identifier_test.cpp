// The identifier circle: wrapping intervals and the documented hash (SHA-1, first m bits).
#include "cloud/dht/identifier.h"

#include <gtest/gtest.h>

#include <stdexcept>

#include "cloud/dht/sha1.h"

namespace homestead::dht {
namespace {

TEST(Sha1, FipsExampleVectors) {
  // FIPS 180 examples: "abc" and the 448-bit two-block message.
  const Sha1Digest abc = sha1("abc");
  EXPECT_EQ(abc[0], 0xa9);
  EXPECT_EQ(abc[1], 0x99);
  EXPECT_EQ(abc[19], 0x9d);
  const Sha1Digest two_blocks = sha1("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq");
  EXPECT_EQ(two_blocks[0], 0x84);
  EXPECT_EQ(two_blocks[1], 0x98);
  EXPECT_EQ(two_blocks[19], 0xf1);
}

TEST(IdSpace, HashIsTheFirstBitsOfSha1) {
  EXPECT_EQ(IdSpace(8).hash("abc"), 0xa9u);
  EXPECT_EQ(IdSpace(32).hash("abc"), 0xa9993e36u);
  EXPECT_EQ(IdSpace(3).hash("abc"), 0xa9u >> 5);
}

TEST(IdSpace, IntervalsWrapPastZero) {
  const IdSpace space(3);
  EXPECT_TRUE(space.in_open(0, 6, 1));
  EXPECT_TRUE(space.in_open(7, 6, 1));
  EXPECT_FALSE(space.in_open(1, 6, 1));
  EXPECT_FALSE(space.in_open(6, 6, 1));
  EXPECT_TRUE(space.in_half_open(1, 6, 1));
  EXPECT_FALSE(space.in_half_open(6, 6, 1));
  EXPECT_FALSE(space.in_half_open(3, 6, 1));
  // (a, a) is everything but a; (a, a] is everything.
  EXPECT_TRUE(space.in_open(5, 3, 3));
  EXPECT_FALSE(space.in_open(3, 3, 3));
  EXPECT_TRUE(space.in_half_open(3, 3, 3));
  EXPECT_EQ(space.finger_start(6, 2), 2u);
  EXPECT_EQ(space.distance(6, 1), 3u);
}

TEST(IdSpace, RejectsBadWidths) {
  EXPECT_THROW(IdSpace(0), std::invalid_argument);
  EXPECT_THROW(IdSpace(64), std::invalid_argument);
}

}  // namespace
}  // namespace homestead::dht
