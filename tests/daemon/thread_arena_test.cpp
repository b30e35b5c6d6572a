// daemon/thread_arena.hpp on jemalloc: a program of its own, linked with jemalloc as the hookd
// binary is (tests/CMakeLists.txt).
#include "daemon/thread_arena.hpp"

#include <gtest/gtest.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/types.h>

#include <cstddef>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

extern "C" {
int mallctl(const char* name, void* oldp, std::size_t* oldlenp, void* newp, std::size_t newlen);
// Here every arena but the ones use_unpurged_arena() makes purges freed pages at once, so that a
// thread left on jemalloc's purging (or given a new arena with its default decay) faults its
// freed pages in again, and the tests below see it. NOLINTNEXTLINE: jemalloc's interface.
const char* malloc_conf = "dirty_decay_ms:0,muzzy_decay_ms:0";
}

namespace hookd::test {
namespace {

unsigned thread_arena() {
  unsigned arena = 0;
  std::size_t size = sizeof(arena);
  EXPECT_EQ(mallctl("thread.arena", &arena, &size, nullptr, 0), 0);
  return arena;
}

ssize_t arena_setting(unsigned arena, const char* name) {
  ssize_t value = 0;
  std::size_t size = sizeof(value);
  std::string key = "arena." + std::to_string(arena) + "." + name;
  EXPECT_EQ(mallctl(key.c_str(), &value, &size, nullptr, 0), 0) << key;
  return value;
}

long minor_faults_of_this_thread() {
  rusage usage{};
  ::getrusage(RUSAGE_THREAD, &usage);
  return usage.ru_minflt;
}

// Allocates what a memtable does (blocks of a mebibyte, written through), then frees it.
void churn(std::size_t mebibytes) {
  std::vector<std::unique_ptr<char[]>> blocks;
  for (std::size_t i = 0; i < mebibytes; ++i) {
    blocks.emplace_back(new char[1 << 20]);
    std::memset(blocks.back().get(), static_cast<int>(i), 1 << 20);
  }
}

TEST(ThreadArena, TheThreadGetsANewArenaThatNeverPurges) {
  std::thread([] {
    unsigned before = thread_arena();
    auto made = use_unpurged_arena();
    ASSERT_TRUE(made);
    unsigned arena = thread_arena();
    EXPECT_EQ(arena, *made);
    EXPECT_NE(arena, before);
    EXPECT_EQ(arena_setting(arena, "dirty_decay_ms"), -1);
    EXPECT_EQ(arena_setting(arena, "muzzy_decay_ms"), -1);
  }).join();
  // Other threads keep jemalloc's purging.
  EXPECT_NE(arena_setting(thread_arena(), "dirty_decay_ms"), -1);
}

// Page faults of a second churn(32) on this thread, after the first and a purge of what the
// thread's arena's decay allows.
long faults_of_a_second_churn() {
  churn(32);
  std::string decay = "arena." + std::to_string(thread_arena()) + ".decay";
  EXPECT_EQ(mallctl(decay.c_str(), nullptr, nullptr, nullptr, 0), 0);
  long before = minor_faults_of_this_thread();
  churn(32);
  return minor_faults_of_this_thread() - before;
}

// What it is for: memory freed on the thread comes back to it without page faults, where the
// same churn on a thread left on the default arena faults every page in again (32 MiB is 8,192).
TEST(ThreadArena, FreedPagesComeBackWithoutFaults) {
  std::thread([] {
    ASSERT_TRUE(use_unpurged_arena());
    EXPECT_LT(faults_of_a_second_churn(), 200);
  }).join();
  std::thread([] { EXPECT_GT(faults_of_a_second_churn(), 4000); }).join();
}

// Whether this kernel populates memory ahead (MADV_POPULATE_WRITE, Linux 5.14): without it
// warm_arena does nothing.
bool kernel_populates_ahead() {
  void* page = ::mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (page == MAP_FAILED) return false;
  bool populated = ::madvise(page, 4096, MADV_POPULATE_WRITE) == 0;
  ::munmap(page, 4096);
  return populated;
}

// A warmed arena gives its first churn pages populated ahead: no page fault for each, where the
// first churn of an arena that was not warmed faults every page in. On a kernel that cannot
// populate ahead, warming does nothing: the first churn faults as without it.
TEST(ThreadArena, AWarmedArenaTakesItsFirstChurnWithoutFaults) {
  auto first_churn_faults = [](bool warm) {
    long faults = -1;
    std::thread([&] {
      ASSERT_TRUE(use_unpurged_arena());
      if (warm) warm_arena(32u << 20);
      long before = minor_faults_of_this_thread();
      churn(32);
      faults = minor_faults_of_this_thread() - before;
    }).join();
    return faults;
  };
  if (kernel_populates_ahead())
    EXPECT_LT(first_churn_faults(true), 200);
  else
    EXPECT_GT(first_churn_faults(true), 4000);
  EXPECT_GT(first_churn_faults(false), 4000);
}

// And once its thread has gone quiet, the daemon purges it: the pages go back to the system, and
// the next churn faults them in again.
TEST(ThreadArena, APurgeHandsThePagesBack) {
  std::thread([] {
    auto arena = use_unpurged_arena();
    ASSERT_TRUE(arena);
    churn(32);
    purge_arena(*arena);
    long before = minor_faults_of_this_thread();
    churn(32);
    EXPECT_GT(minor_faults_of_this_thread() - before, 4000);
  }).join();
}

}  // namespace
}  // namespace hookd::test
