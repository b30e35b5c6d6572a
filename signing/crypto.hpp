// Cryptographic primitives hookd needs, on OpenSSL 3. Thread-safe: every function is pure
// apart from the randomness, which comes from OpenSSL's CSPRNG (RAND_bytes).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace hookd::signing {

// `n` bytes from the CSPRNG. Throws std::runtime_error if OpenSSL cannot produce them.
std::string random_bytes(std::size_t n);

// `n` characters drawn uniformly from [a-z0-9], like the documented API's default secret_key.
std::string random_alnum(std::size_t n);

// A random (version 4) UUID in canonical lowercase form.
std::string uuid4();

// A time-ordered (version 7, RFC 9562) UUID: the first 48 bits are `unix_ms`, the other 74 free
// bits random. Ids made later sort after earlier ones (within a millisecond, in random order), so
// records keyed by them are written next to each other instead of all over the key space.
std::string uuid7(std::int64_t unix_ms);

// Lowercase hex of `bytes`.
std::string hex(std::string_view bytes);

// Standard base64 with padding.
std::string base64(std::string_view bytes);

// SHA-256 of `data`, 32 raw bytes.
std::string sha256(std::string_view data);

// HMAC-SHA256 of `message` with `key`, 32 raw bytes.
std::string hmac_sha256(std::string_view key, std::string_view message);

// Compares in time that depends only on the lengths, for secrets.
bool constant_time_equal(std::string_view a, std::string_view b);

}  // namespace hookd::signing
