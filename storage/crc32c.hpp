// CRC-32C (Castagnoli) on the CPU's crc32 instruction, for RocksDB.
//
// RocksDB checksums every write-ahead-log record and every blob record with CRC-32C, and reads
// check them again. Debian builds RocksDB for any x86-64 (PORTABLE, without SSE4.2), so its
// CRC-32C runs in software: about 1 GB/s, 30% of the group committer's CPU with batch ingress
// (the log's records) and a third of the flush thread's (the blob files' records) in
// bench/RESULTS.md, step 53. With the crc32 instruction the same work costs a tenth or less.
//
// hookd links RocksDB statically (Debian's CMake target is librocksdb.a), and on x86-64
// crc32c.cpp defines the three functions of RocksDB 7.8's util/crc32c.cc itself:
// rocksdb::crc32c::Extend, Crc32cCombine and IsFastCrc32Supported. The linker takes a symbol
// from an archive only when nothing linked before defines it, so RocksDB's own object is then
// left out and every RocksDB caller computes its checksums here. It is the same function, so
// files are read and written as by any other RocksDB. Store's constructor calls
// crc32c_implementation(), which makes the linker take this file before it reaches the archive.
// A RocksDB whose crc32c.cc defined more would fail the link loudly (two definitions); one that
// renamed these would leave them unused and checksum in software again, which RocksDB's own
// info line at open shows ("Fast CRC32 supported: ...", at debug level in hookd's log).
//
// On a CPU without the instruction this falls back to a table, a byte at a time: slower than
// RocksDB's own software. Other architectures keep RocksDB's, which may use their own CRC
// instructions.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace hookd::storage {

// Whether RocksDB's CRC-32C is replaced by this one in this build (see above).
#if defined(__x86_64__)
inline constexpr bool kReplacesRocksDbCrc32c = true;
#else
inline constexpr bool kReplacesRocksDbCrc32c = false;
#endif

// The CRC-32C of `data` appended to data whose CRC-32C was `crc` (0 for none before).
std::uint32_t crc32c_extend(std::uint32_t crc, const char* data, std::size_t size);

// The same without the crc32 instruction, as on CPUs that lack it: for tests.
std::uint32_t crc32c_extend_portable(std::uint32_t crc, const char* data, std::size_t size);

// The CRC-32C of A followed by B, from crc(A), crc(B) and B's length.
std::uint32_t crc32c_combine(std::uint32_t crc_a, std::uint32_t crc_b, std::size_t size_b);

// "crc32 instruction (SSE4.2)" or "software": what this CPU got, chosen at the first use.
std::string_view crc32c_implementation();

}  // namespace hookd::storage
