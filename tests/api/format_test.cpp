// The timestamps the API writes (created_at and the like): ISO 8601, UTC, milliseconds.
#include "api/format.hpp"

#include <gtest/gtest.h>

namespace hookd::api {
namespace {

TEST(Format, Iso8601InUtcWithMilliseconds) {
  EXPECT_EQ(iso8601(0), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(iso8601(1'700'000'000'123), "2023-11-14T22:13:20.123Z");
  EXPECT_EQ(iso8601(951'782'400'007), "2000-02-29T00:00:00.007Z");  // a leap day
  EXPECT_EQ(iso8601(253'402'300'799'999), "9999-12-31T23:59:59.999Z");
}

}  // namespace
}  // namespace hookd::api
