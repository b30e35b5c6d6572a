// Expected values come from the openssl command line (commands beside each), not from this code.
#include "signing/crypto.hpp"

#include <gtest/gtest.h>

#include <regex>
#include <set>
#include <thread>
#include <vector>

namespace hookd::signing {
namespace {

TEST(Crypto, Sha256MatchesOpenSslCli) {
  // printf abc | openssl dgst -sha256
  EXPECT_EQ(hex(sha256("abc")), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(Crypto, HmacSha256MatchesOpenSslCli) {
  // printf 'what do ya want for nothing?' | openssl dgst -sha256 -hmac Jefe   (RFC 4231, case 2)
  EXPECT_EQ(hex(hmac_sha256("Jefe", "what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST(Crypto, Base64MatchesCoreutils) {
  // printf 'hookd\x00\xff' | base64
  EXPECT_EQ(base64(std::string("hookd\x00\xff", 7)), "aG9va2QA/w==");
  EXPECT_EQ(base64(""), "");
}

TEST(Crypto, HexIsLowercase) { EXPECT_EQ(hex(std::string("\x01\xab\xff", 3)), "01abff"); }

TEST(Crypto, Uuid4HasVersionAndVariant) {
  std::regex shape("^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$");
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) {  // ids draw on a per-thread pool of 64 ids' bits: 15 refills
    std::string id = uuid4();
    EXPECT_TRUE(std::regex_match(id, shape)) << id;
    seen.insert(id);
  }
  EXPECT_EQ(seen.size(), 1000u);
}

TEST(Crypto, IdsMadeOnDifferentThreadsDiffer) {
  auto make = [] {
    std::vector<std::string> ids;
    for (int i = 0; i < 200; ++i) ids.push_back(uuid4());
    return ids;
  };
  std::vector<std::string> a, b;
  std::thread one([&] { a = make(); }), two([&] { b = make(); });
  one.join();
  two.join();
  std::set<std::string> seen(a.begin(), a.end());
  seen.insert(b.begin(), b.end());
  EXPECT_EQ(seen.size(), 400u);
}

TEST(Crypto, Uuid7CarriesItsMillisecondAndSortsByIt) {
  std::regex shape("^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$");
  // 2026-11-27T13:54:17.123Z is 0x01a21d490fa3 ms: the first 12 hex digits, dash after the 8th.
  std::int64_t ms = 1795787657123;
  std::set<std::string> seen;
  for (int i = 0; i < 100; ++i) {
    std::string id = uuid7(ms);
    EXPECT_TRUE(std::regex_match(id, shape)) << id;
    EXPECT_EQ(id.substr(0, 13), "01a21d49-0fa3") << id;
    seen.insert(id);
  }
  EXPECT_EQ(seen.size(), 100u);  // 74 random bits within one millisecond
  EXPECT_LT(uuid7(ms), uuid7(ms + 1));
  EXPECT_LT(uuid7(0xff), uuid7(0x100));  // byte order: the most significant byte first
}

TEST(Crypto, RandomAlnumUsesTheWholeAlphabetOnly) {
  std::string s = random_alnum(4000);
  ASSERT_EQ(s.size(), 4000u);
  std::set<char> chars(s.begin(), s.end());
  for (char c : chars) EXPECT_TRUE((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) << c;
  EXPECT_EQ(chars.size(), 36u);  // 4000 draws from 36 symbols miss one with negligible probability
}

TEST(Crypto, ConstantTimeEqual) {
  EXPECT_TRUE(constant_time_equal("abc", "abc"));
  EXPECT_FALSE(constant_time_equal("abc", "abd"));
  EXPECT_FALSE(constant_time_equal("abc", "abcd"));
}

}  // namespace
}  // namespace hookd::signing
