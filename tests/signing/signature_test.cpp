// Expected values from the openssl command line; the commands are beside each value.
#include "signing/signature.hpp"

#include <gtest/gtest.h>

#include "signing/crypto.hpp"

namespace hookd::signing {
namespace {

constexpr std::string_view kBody = R"({"id":"p1","amount":"100.00"})";
constexpr std::string_view kSecret = "c1329a085d65f7757838df5920fdcc9a";

TEST(Signature, BothSchemesMatchOpenSslCli) {
  std::string_view secrets[] = {kSecret};
  auto h = sign(secrets, "msg_1", 1700000000, kBody);
  // printf '1700000000.{"id":"p1","amount":"100.00"}' | openssl dgst -sha256 -hmac c1329a085d65f7757838df5920fdcc9a
  EXPECT_EQ(h.gigapay_signature, "t=1700000000,v1=8ea11437785df87a9de54ccddad43965003b8a3d2d347422cb498898a0d5d024");
  // printf 'msg_1.1700000000.{"id":"p1","amount":"100.00"}' | openssl dgst -sha256 -hmac c13... -binary | base64
  EXPECT_EQ(h.webhook_signature, "v1,GNBpPVH27Wii11ilRtHXLhPsrbPBpeOh1VzbE3fKXro=");
}

TEST(Signature, RotationSignsWithEverySecretNewestFirst) {
  std::string_view secrets[] = {kSecret, "old-secret"};
  auto h = sign(secrets, "msg_1", 1700000000, kBody);
  // printf '1700000000.{"id":"p1","amount":"100.00"}' | openssl dgst -sha256 -hmac old-secret
  EXPECT_EQ(h.gigapay_signature,
            "t=1700000000,v1=8ea11437785df87a9de54ccddad43965003b8a3d2d347422cb498898a0d5d024"
            ",v1=d48fb69801397c82ea9a4eb1eb18b4c23b11ad001095438ef97f4c118b5f0415");
  // printf 'msg_1.1700000000.{"id":"p1","amount":"100.00"}' | openssl dgst -sha256 -hmac old-secret -binary | base64
  EXPECT_EQ(h.webhook_signature,
            "v1,GNBpPVH27Wii11ilRtHXLhPsrbPBpeOh1VzbE3fKXro= v1,8ChEf8WWlxp1kynSLWGgxTwvQLzg8PilCcLw+qeiosA=");
}

TEST(Signature, SignerKeepsItsKeysAcrossDeliveries) {
  std::string_view secrets[] = {kSecret, "old-secret"};
  Signer signer(secrets);
  // Different ids, times and bodies one after another: each as a fresh one-shot signature.
  for (int i = 0; i < 3; ++i) {
    std::string id = "msg_" + std::to_string(i);
    std::string body = std::string(kBody) + std::string(static_cast<std::size_t>(i), ' ');
    auto reused = signer.sign(id, 1700000000 + i, body);
    auto fresh = sign(secrets, id, 1700000000 + i, body);
    EXPECT_EQ(reused.gigapay_signature, fresh.gigapay_signature);
    EXPECT_EQ(reused.webhook_signature, fresh.webhook_signature);
  }
  EXPECT_EQ(signer.sign("msg_1", 1700000000, kBody).webhook_signature,
            "v1,GNBpPVH27Wii11ilRtHXLhPsrbPBpeOh1VzbE3fKXro= v1,8ChEf8WWlxp1kynSLWGgxTwvQLzg8PilCcLw+qeiosA=");
}

TEST(Signature, HmacIsReusableAndAgreesWithOneShot) {
  Hmac hmac("Jefe");
  for (int i = 0; i < 3; ++i)  // the same key context, message after message
    EXPECT_EQ(hex(hmac.digest({"what do ya ", "want for nothing?"})),
              "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  EXPECT_EQ(hmac.digest({"a", "b"}), hmac_sha256("Jefe", "ab"));
  EXPECT_EQ(Hmac("").digest({}), hmac_sha256("", ""));
}

}  // namespace
}  // namespace hookd::signing
