#include "signing/crypto.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include <stdexcept>

namespace hookd::signing {

std::string random_bytes(std::size_t n) {
  std::string out(n, '\0');
  if (n > 0 && RAND_bytes(reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(n)) != 1)
    throw std::runtime_error("RAND_bytes failed");
  return out;
}

std::string random_alnum(std::size_t n) {
  static constexpr std::string_view alphabet = "abcdefghijklmnopqrstuvwxyz0123456789";
  std::string out;
  out.reserve(n);
  // Rejection sampling keeps the distribution uniform: 252 is the largest multiple of 36 <= 256.
  while (out.size() < n) {
    for (unsigned char c : random_bytes(n)) {
      if (c < 252 && out.size() < n) out.push_back(alphabet[c % alphabet.size()]);
    }
  }
  return out;
}

namespace {

// Writes the two lowercase hex digits of `c` at `to`.
void put_hex(unsigned char c, char* to) {
  static constexpr char digits[] = "0123456789abcdef";
  to[0] = digits[c >> 4];
  to[1] = digits[c & 0x0f];
}

// The random bits of ids come from a per-thread pool refilled 1 KiB at a time. One RAND_bytes call
// per id took a lock and a getpid() system call (OpenSSL's check for a fork): a third of the I/O
// thread's time when an event fans out to ten webhooks. The bits are the CSPRNG's all the same;
// secrets still take a call of their own (random_bytes). A pool copied into a forked child would
// repeat the parent's ids, but hookd never forks.
std::string id_random_bytes(std::size_t n) {
  thread_local struct {
    unsigned char bytes[1024];
    std::size_t used = sizeof bytes;
  } pool;
  if (n > sizeof pool.bytes) return random_bytes(n);
  if (sizeof pool.bytes - pool.used < n) {
    if (RAND_bytes(pool.bytes, sizeof pool.bytes) != 1) throw std::runtime_error("RAND_bytes failed");
    pool.used = 0;
  }
  std::string out(reinterpret_cast<const char*>(pool.bytes + pool.used), n);
  pool.used += n;
  return out;
}

// Sets the version and the RFC 4122 variant of 16 bytes and formats them 8-4-4-4-12.
std::string format_uuid(std::string b, int version) {
  b[6] = static_cast<char>((b[6] & 0x0f) | (version << 4));
  b[8] = static_cast<char>((b[8] & 0x3f) | 0x80);
  std::string out(36, '-');
  std::size_t at = 0;
  for (std::size_t i = 0; i < 16; ++i, at += 2) {
    if (i == 4 || i == 6 || i == 8 || i == 10) ++at;  // past a dash
    put_hex(static_cast<unsigned char>(b[i]), &out[at]);
  }
  return out;
}

}  // namespace

std::string uuid4() { return format_uuid(id_random_bytes(16), 4); }

std::string uuid7(std::int64_t unix_ms) {
  std::string b = id_random_bytes(16);
  auto ms = static_cast<std::uint64_t>(unix_ms);
  for (int i = 0; i < 6; ++i) b[static_cast<std::size_t>(i)] = static_cast<char>(ms >> (40 - 8 * i));
  return format_uuid(std::move(b), 7);
}

std::string hex(std::string_view bytes) {
  std::string out(bytes.size() * 2, '\0');
  for (std::size_t i = 0; i < bytes.size(); ++i) put_hex(static_cast<unsigned char>(bytes[i]), &out[2 * i]);
  return out;
}

std::string base64(std::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3), '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(bytes.data()), static_cast<int>(bytes.size()));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

std::string sha256(std::string_view data) {
  // Fetched once: SHA256() looks the algorithm up in OpenSSL's provider store at every call, which
  // took two thirds of the 330 ns it spent on an API key (hashed for every request).
  static EVP_MD* const md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  std::string out(SHA256_DIGEST_LENGTH, '\0');
  auto* digest = reinterpret_cast<unsigned char*>(out.data());
  if (!md || EVP_Digest(data.data(), data.size(), digest, nullptr, md, nullptr) != 1)
    throw std::runtime_error("SHA-256 failed");
  return out;
}

std::string hmac_sha256(std::string_view key, std::string_view message) {
  std::string out(EVP_MAX_MD_SIZE, '\0');
  unsigned int len = 0;
  if (!HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
            reinterpret_cast<const unsigned char*>(message.data()), message.size(),
            reinterpret_cast<unsigned char*>(out.data()), &len))
    throw std::runtime_error("HMAC failed");
  out.resize(len);
  return out;
}

bool constant_time_equal(std::string_view a, std::string_view b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace hookd::signing
