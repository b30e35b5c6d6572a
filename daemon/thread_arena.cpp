#include "daemon/thread_arena.hpp"

#include <spdlog/spdlog.h>
#include <sys/mman.h>
#include <sys/types.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

// jemalloc's control interface, declared weak: the hookd binary links jemalloc, the libraries' other
// users (the tests, sanitizer builds) may not, and there it is null.
extern "C" int mallctl(const char* name, void* oldp, std::size_t* oldlenp, void* newp, std::size_t newlen)
    __attribute__((weak));

namespace hookd {

std::optional<unsigned> use_unpurged_arena() {
  if (mallctl == nullptr) return std::nullopt;
  unsigned arena = 0;
  std::size_t size = sizeof(arena);
  if (int err = mallctl("arenas.create", &arena, &size, nullptr, 0); err != 0) {
    spdlog::warn("jemalloc: no arena of its own for this thread (arenas.create: error {})", err);
    return std::nullopt;
  }
  // Set before the thread moves to it: a decay of -1 never purges.
  const std::string prefix = "arena." + std::to_string(arena);
  ssize_t never = -1;
  for (const char* decay : {".dirty_decay_ms", ".muzzy_decay_ms"}) {
    if (int err = mallctl((prefix + decay).c_str(), nullptr, nullptr, &never, sizeof(never)); err != 0) {
      spdlog::warn("jemalloc: {}{}: error {}; the thread keeps its arena", prefix, decay, err);
      return std::nullopt;
    }
  }
  if (int err = mallctl("thread.arena", nullptr, nullptr, &arena, sizeof(arena)); err != 0) {
    spdlog::warn("jemalloc: thread.arena: error {}; the thread keeps its arena", err);
    return std::nullopt;
  }
  return arena;
}

void warm_arena(std::size_t bytes) {
  constexpr std::size_t kChunk = 1u << 20;  // what RocksDB's memtables allocate at a time
  const auto page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));  // madvise takes whole pages
  std::vector<void*> chunks;
  chunks.reserve(bytes / kChunk + 1);
  for (std::size_t warmed = 0; warmed < bytes; warmed += kChunk) {
    void* chunk = std::aligned_alloc(page, kChunk);
    if (chunk == nullptr) break;
    chunks.push_back(chunk);
    if (::madvise(chunk, kChunk, MADV_POPULATE_WRITE) != 0) {
      spdlog::debug("memory not populated ahead (madvise: {})", std::strerror(errno));
      break;
    }
  }
  for (void* chunk : chunks) std::free(chunk);
}

void purge_arena(unsigned arena) {
  if (mallctl == nullptr) return;
  const std::string purge = "arena." + std::to_string(arena) + ".purge";
  if (int err = mallctl(purge.c_str(), nullptr, nullptr, nullptr, 0); err != 0)
    spdlog::warn("jemalloc: {}: error {}", purge, err);
}

}  // namespace hookd
