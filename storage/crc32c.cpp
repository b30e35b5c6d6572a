#include "storage/crc32c.hpp"

#include <array>
#include <string>

#if defined(__x86_64__)
#include <nmmintrin.h>
#endif

namespace hookd::storage {
namespace {

constexpr std::uint32_t kPolynomial = 0x82F63B78;  // Castagnoli's, bit-reflected

constexpr std::array<std::uint32_t, 256> byte_table() {
  std::array<std::uint32_t, 256> table{};
  for (std::uint32_t i = 0; i < 256; ++i) {
    std::uint32_t crc = i;
    for (int bit = 0; bit < 8; ++bit) crc = crc & 1 ? (crc >> 1) ^ kPolynomial : crc >> 1;
    table[i] = crc;
  }
  return table;
}
constexpr auto kByteTable = byte_table();

// On the raw register (not inverted before and after): both implementations continue it.
// (Boost.CRC's crc_optimal is the same table a byte at a time, but it takes a register to continue
// from only bit-reversed; this is shorter than the conversion.)
std::uint32_t extend_software(std::uint32_t crc, const unsigned char* p, std::size_t size) {
  for (std::size_t i = 0; i < size; ++i) crc = kByteTable[(crc ^ p[i]) & 0xFF] ^ (crc >> 8);
  return crc;
}

#if defined(__x86_64__)
__attribute__((target("sse4.2"))) std::uint32_t extend_hardware(std::uint32_t crc, const unsigned char* p,
                                                                  std::size_t size) {
  std::uint64_t wide = crc;
  for (; size >= 8; p += 8, size -= 8) {
    std::uint64_t word;
    __builtin_memcpy(&word, p, 8);  // unaligned
    wide = _mm_crc32_u64(wide, word);
  }
  auto narrow = static_cast<std::uint32_t>(wide);
  for (; size > 0; ++p, --size) narrow = _mm_crc32_u8(narrow, *p);
  return narrow;
}

bool has_crc32_instruction() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("sse4.2");
}
#else
std::uint32_t extend_hardware(std::uint32_t crc, const unsigned char* p, std::size_t size) {
  return extend_software(crc, p, size);
}
bool has_crc32_instruction() { return false; }
#endif

// Chosen at the first call rather than during static initialisation, whose order across files
// (and RocksDB's) is not defined.
bool hardware() {
  static const bool has = has_crc32_instruction();
  return has;
}

// Polynomials over GF(2) modulo Castagnoli's, bit-reflected (x^0 is the top bit): a * b.
constexpr std::uint32_t multiply(std::uint32_t a, std::uint32_t b) {
  std::uint32_t product = 0;
  for (std::uint32_t bit = 1u << 31; a != 0; bit >>= 1) {
    if (a & bit) {
      product ^= b;
      a ^= bit;
    }
    b = b & 1 ? (b >> 1) ^ kPolynomial : b >> 1;  // b * x
  }
  return product;
}

// x^(8 * 2^k) for k = 0..63: appending 2^k zero bytes multiplies a CRC register by the k-th.
constexpr std::array<std::uint32_t, 64> zero_byte_shifts() {
  std::array<std::uint32_t, 64> shifts{};
  shifts[0] = 1u << 23;  // x^8
  for (std::size_t k = 1; k < shifts.size(); ++k) shifts[k] = multiply(shifts[k - 1], shifts[k - 1]);
  return shifts;
}
constexpr auto kZeroByteShifts = zero_byte_shifts();

// x^(8 * size): appending `size` zero bytes multiplies a CRC register by it.
std::uint32_t shift_of(std::size_t size) {
  std::uint32_t result = 1u << 31;  // 1
  for (std::size_t k = 0; size != 0; size >>= 1, ++k)
    if (size & 1) result = multiply(result, kZeroByteShifts[k]);
  return result;
}

}  // namespace

std::uint32_t crc32c_extend(std::uint32_t crc, const char* data, std::size_t size) {
  auto* p = reinterpret_cast<const unsigned char*>(data);
  return ~(hardware() ? extend_hardware(~crc, p, size) : extend_software(~crc, p, size));
}

std::uint32_t crc32c_extend_portable(std::uint32_t crc, const char* data, std::size_t size) {
  return ~extend_software(~crc, reinterpret_cast<const unsigned char*>(data), size);
}

std::uint32_t crc32c_combine(std::uint32_t crc_a, std::uint32_t crc_b, std::size_t size_b) {
  // crc(A B) = crc(A) * x^(8 |B|) + crc(B): the inversions before and after cancel out.
  return multiply(crc_a, shift_of(size_b)) ^ crc_b;
}

std::string_view crc32c_implementation() { return hardware() ? "crc32 instruction (SSE4.2)" : "software"; }

}  // namespace hookd::storage

#if defined(__x86_64__)
// RocksDB 7.8's util/crc32c.h, defined here instead of by its util/crc32c.cc (see crc32c.hpp).
namespace rocksdb::crc32c {

std::uint32_t Extend(std::uint32_t init_crc, const char* data, std::size_t n) {
  return hookd::storage::crc32c_extend(init_crc, data, n);
}

std::uint32_t Crc32cCombine(std::uint32_t crc1, std::uint32_t crc2, std::size_t crc2len) {
  return hookd::storage::crc32c_combine(crc1, crc2, crc2len);
}

std::string IsFastCrc32Supported() {
  return std::string(hookd::storage::crc32c_implementation()) + " (hookd's, storage/crc32c.cpp)";
}

}  // namespace rocksdb::crc32c
#endif
