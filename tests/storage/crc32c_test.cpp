// hookd's CRC-32C, which RocksDB uses in place of its own (storage/crc32c.hpp): the standard
// function on both paths, continued and combined as RocksDB does, and really linked in.
#include "storage/crc32c.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <string>
#include <string_view>

#include "storage/store.hpp"
#include "tests/support/temp_dir.hpp"

namespace rocksdb::crc32c {
std::string IsFastCrc32Supported();  // RocksDB 7.8's util/crc32c.h, not among its installed headers
}

namespace hookd::storage {
namespace {

using Extend = std::uint32_t (*)(std::uint32_t, const char*, std::size_t);

std::uint32_t crc_of(Extend extend, std::string_view s) { return extend(0, s.data(), s.size()); }

std::string bytes(std::size_t n, std::uint32_t seed) {
  std::mt19937 random(seed);
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(random());
  return s;
}

class Crc32cTest : public ::testing::TestWithParam<Extend> {};

// RFC 3720 (iSCSI), appendix B.4, and the customary check value.
TEST_P(Crc32cTest, KnownValues) {
  Extend extend = GetParam();
  std::string ascending(32, '\0'), descending(32, '\0');
  for (int i = 0; i < 32; ++i) {
    ascending[i] = static_cast<char>(i);
    descending[i] = static_cast<char>(31 - i);
  }
  EXPECT_EQ(crc_of(extend, std::string(32, '\0')), 0x8A9136AAu);
  EXPECT_EQ(crc_of(extend, std::string(32, '\xff')), 0x62A8AB43u);
  EXPECT_EQ(crc_of(extend, ascending), 0x46DD794Eu);
  EXPECT_EQ(crc_of(extend, descending), 0x113FDB5Cu);
  EXPECT_EQ(crc_of(extend, "123456789"), 0xE3069283u);
  EXPECT_EQ(crc_of(extend, ""), 0u);
}

// RocksDB checksums a record's type byte and then its payload: a CRC continued piece by piece
// must be the CRC of the whole, wherever it is cut and however the pieces are aligned.
TEST_P(Crc32cTest, ExtendingPieceByPieceGivesTheWhole) {
  Extend extend = GetParam();
  std::string data = bytes(200, 1);
  for (std::size_t start = 0; start < 8; ++start) {
    std::string_view s = std::string_view(data).substr(start);
    std::uint32_t whole = crc_of(extend, s);
    EXPECT_EQ(whole, crc_of(crc32c_extend_portable, s)) << "from " << start;
    for (std::size_t cut = 0; cut <= s.size(); ++cut)
      ASSERT_EQ(extend(extend(0, s.data(), cut), s.data() + cut, s.size() - cut), whole) << start << ", " << cut;
  }
}

INSTANTIATE_TEST_SUITE_P(BothPaths, Crc32cTest, ::testing::Values(&crc32c_extend, &crc32c_extend_portable),
                         [](const auto& info) { return info.index == 0 ? "Chosen" : "Portable"; });

TEST(Crc32c, CombiningTwoCrcsGivesTheCrcOfBothParts) {
  std::mt19937 random(2);
  for (std::size_t size_b : {0u, 1u, 7u, 8u, 9u, 100u, 4096u, 1u << 20}) {
    std::string a = bytes(random() % 300, random()), b = bytes(size_b, random());
    std::uint32_t crc_a = crc_of(crc32c_extend, a), crc_b = crc_of(crc32c_extend, b);
    EXPECT_EQ(crc32c_combine(crc_a, crc_b, b.size()), crc_of(crc32c_extend, a + b)) << "|B| = " << size_b;
  }
}

// On x86-64 RocksDB's own CRC-32C is left out of the link: RocksDB's call reaches this one. (Were
// RocksDB's object linked instead, this would answer "Not supported on x86" in Debian's build.)
// Elsewhere RocksDB keeps its own. A store written and reopened then checks every log record it
// replays with whichever it has.
TEST(Crc32c, RocksDbUsesItOnX86) {
  std::string answer = rocksdb::crc32c::IsFastCrc32Supported();
  EXPECT_EQ(answer.find("hookd") != std::string::npos, kReplacesRocksDbCrc32c) << answer;
  test::TempDir dir;
  {
    Store store({dir.str()});
    Batch batch = store.batch();
    batch.put_integration({"i", std::string(5000, 'n'), 1});
    ASSERT_TRUE(store.write(batch).is_ok());
  }
  Store reopened({dir.str()});
  auto found = reopened.find_integration("i");
  ASSERT_TRUE(found);
  EXPECT_EQ(found->name, std::string(5000, 'n'));
}

}  // namespace
}  // namespace hookd::storage
