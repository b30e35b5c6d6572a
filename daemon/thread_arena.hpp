// A jemalloc arena of its own, purged only when asked, for a thread whose memory churns fast and
// comes back to the same size: the group committer's, on which RocksDB allocates every memtable.
//
// jemalloc returns freed pages to the system as they age (daemon/jemalloc_conf.cpp), and the next
// memtable then faults fresh pages in: 5,000-6,500 page faults a second on the committer in batch
// ingress, about a twelfth of its time in this kind of VM, and a longer decay does not avoid them
// (bench/RESULTS.md, step 65). In an arena that never purges by itself, a flushed memtable's pages
// are the next one's; what it keeps is bounded by the most the thread held at once, and the daemon
// hands that back once the thread has gone quiet (App::start_maintenance), so that a daemon at rest
// is as small as before. The first memtables of a fresh process would still fault every page in:
// the daemon populates the arena with the memtables' budget and a quarter more as the thread
// starts (warm_arena), which a start without writes for a few seconds hands back the same way.
// Everything else keeps jemalloc's purging.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>

namespace hookd {

// Moves the calling thread's allocations to a new arena that never purges by itself. Its index;
// nothing (and nothing changed) where the process does not run on jemalloc, as in sanitizer builds.
std::optional<unsigned> use_unpurged_arena();

// Faults in `bytes` of memory in the calling thread's arena ahead of its use, a mebibyte per
// system call (MADV_POPULATE_WRITE), and frees it again. In an arena that never purges the pages
// stay, and the thread's next allocations up to that size take them without faulting each page in
// as it is first written: a fault costs about 11 us in this project's VMs, a page populated ahead
// under 1 us (bench/RESULTS.md, step 69). Does nothing where the kernel cannot populate ahead
// (before Linux 5.14): faulting the pages in one by one here would only move that cost.
void warm_arena(std::size_t bytes);

// Hands the arena's unused pages back to the system. Thread-safe.
void purge_arena(unsigned arena);

// Says when a count of work done has stood still: true on the tick that makes `ticks` ticks in a
// row without a change, once per quiet spell (a new spell starts when the count moves again).
class QuietSpell {
 public:
  explicit QuietSpell(int ticks) : ticks_(ticks) {}
  bool tick(std::uint64_t count) {
    if (count != last_) {
      last_ = count;
      still_ = 0;
      return false;
    }
    return ++still_ == ticks_;
  }

 private:
  int ticks_;
  std::uint64_t last_ = 0;
  int still_ = 0;
};

}  // namespace hookd
