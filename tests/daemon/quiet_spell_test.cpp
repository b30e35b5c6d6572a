// When the daemon hands the committer's arena back (daemon/thread_arena.hpp): once the count of
// groups written has stood still for the given number of ticks, and once per quiet spell.
#include <gtest/gtest.h>

#include "daemon/thread_arena.hpp"

namespace hookd::test {
namespace {

TEST(QuietSpell, SaysSoOnceTheCountStoodStillForTheTicksThenWaitsForANewSpell) {
  QuietSpell quiet(2);
  EXPECT_FALSE(quiet.tick(5));  // moved (from 0)
  EXPECT_FALSE(quiet.tick(5));  // still for one tick
  EXPECT_TRUE(quiet.tick(5));   // two
  EXPECT_FALSE(quiet.tick(5));  // the same spell: said already
  EXPECT_FALSE(quiet.tick(5));
  EXPECT_FALSE(quiet.tick(9));  // work again
  EXPECT_FALSE(quiet.tick(9));
  EXPECT_FALSE(quiet.tick(10));  // a tick of work resets the count
  EXPECT_FALSE(quiet.tick(10));
  EXPECT_TRUE(quiet.tick(10));
}

}  // namespace
}  // namespace hookd::test
