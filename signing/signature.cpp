#include "signing/signature.hpp"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include <stdexcept>

#include "signing/crypto.hpp"

namespace hookd::signing {

struct Hmac::Impl {
  EVP_MAC* mac = nullptr;
  EVP_MAC_CTX* ctx = nullptr;
};

Hmac::Hmac(std::string_view key) : impl_(new Impl) {
  impl_->mac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
  if (impl_->mac) impl_->ctx = EVP_MAC_CTX_new(impl_->mac);
  char digest[] = "SHA256";
  OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0), OSSL_PARAM_construct_end()};
  if (!impl_->ctx ||
      EVP_MAC_init(impl_->ctx, reinterpret_cast<const unsigned char*>(key.data()), key.size(), params) != 1) {
    this->~Hmac();
    throw std::runtime_error("HMAC setup failed");
  }
}

Hmac::~Hmac() {
  if (!impl_) return;
  EVP_MAC_CTX_free(impl_->ctx);
  EVP_MAC_free(impl_->mac);
  delete impl_;
  impl_ = nullptr;
}

std::string Hmac::digest(std::initializer_list<std::string_view> parts) {
  // A null key re-initializes with the key already set: no new key schedule per message.
  if (EVP_MAC_init(impl_->ctx, nullptr, 0, nullptr) != 1) throw std::runtime_error("HMAC init failed");
  for (auto part : parts)
    if (EVP_MAC_update(impl_->ctx, reinterpret_cast<const unsigned char*>(part.data()), part.size()) != 1)
      throw std::runtime_error("HMAC update failed");
  std::string out(EVP_MAX_MD_SIZE, '\0');
  std::size_t len = 0;
  if (EVP_MAC_final(impl_->ctx, reinterpret_cast<unsigned char*>(out.data()), &len, out.size()) != 1)
    throw std::runtime_error("HMAC final failed");
  out.resize(len);
  return out;
}

Signer::Signer(std::span<const std::string_view> secrets) {
  for (auto secret : secrets) keys_.push_back(std::make_unique<Hmac>(secret));
}

SignatureHeaders Signer::sign(std::string_view webhook_id, std::int64_t timestamp, std::string_view body) {
  std::string t = std::to_string(timestamp);
  SignatureHeaders h;
  h.gigapay_signature = "t=" + t;
  for (auto& hmac : keys_) {
    h.gigapay_signature += ",v1=" + hex(hmac->digest({t, ".", body}));
    if (!h.webhook_signature.empty()) h.webhook_signature += ' ';
    h.webhook_signature += "v1," + base64(hmac->digest({webhook_id, ".", t, ".", body}));
  }
  return h;
}

SignatureHeaders sign(std::span<const std::string_view> secrets, std::string_view webhook_id, std::int64_t timestamp,
                      std::string_view body) {
  return Signer(secrets).sign(webhook_id, timestamp, body);
}

}  // namespace hookd::signing
