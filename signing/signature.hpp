// The signature headers of a delivery (SPEC §5), made with the webhook's secret key:
//
//   Gigapay-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>
//   Webhook-Signature: v1,<base64 HMAC-SHA256(secret, "<id>.<t>.<body>")>   (Standard Webhooks)
//
// During a secret rotation both secrets sign: Gigapay-Signature carries one v1= per secret and
// Webhook-Signature one space-separated entry per secret, newest first. A Standard Webhooks library
// verifies with the secret "whsec_" + base64(secret_key).
#pragma once

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace hookd::signing {

// HMAC-SHA256 with one key, fed in pieces so that no message is ever copied together.
class Hmac {
 public:
  explicit Hmac(std::string_view key);
  ~Hmac();
  Hmac(const Hmac&) = delete;
  Hmac& operator=(const Hmac&) = delete;

  // The 32-byte MAC of the concatenation of `parts`.
  std::string digest(std::initializer_list<std::string_view> parts);

 private:
  struct Impl;
  Impl* impl_;
};

struct SignatureHeaders {
  std::string gigapay_signature;  // value of Gigapay-Signature
  std::string webhook_signature;  // value of Webhook-Signature
};

// Signs deliveries with a fixed set of secrets, keeping each key's HMAC context: signing many
// bodies with one Signer skips the key setup that a one-shot signature pays every time (about
// half the cost of a 1 KiB signature). Not thread-safe.
class Signer {
 public:
  explicit Signer(std::span<const std::string_view> secrets);
  // Signs `body` of delivery `webhook_id` at `timestamp` (unix seconds) with each secret.
  SignatureHeaders sign(std::string_view webhook_id, std::int64_t timestamp, std::string_view body);

 private:
  std::vector<std::unique_ptr<Hmac>> keys_;
};

// Signs `body` of delivery `webhook_id` at `timestamp` (unix seconds) with each of `secrets`.
SignatureHeaders sign(std::span<const std::string_view> secrets, std::string_view webhook_id, std::int64_t timestamp,
                      std::string_view body);

}  // namespace hookd::signing
