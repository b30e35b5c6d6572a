#include "signing/crypto.hpp"

#include <gtest/gtest.h>

namespace hookd::signing {
TEST(Crypto, Placeholder) { EXPECT_EQ(hex("\x01\xff"), "01ff"); }
}
