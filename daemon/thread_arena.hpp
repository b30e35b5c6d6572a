// A jemalloc arena of its own, purged only when asked, for a thread whose memory churns fast and
// comes back to the same size: the group committer's, on which RocksDB allocates every memtable.
//
// jemalloc returns freed pages to the system as they age (daemon/jemalloc_conf.cpp), and the next
// memtable then faults fresh pages in: 5,000-6,500 page faults a second on the committer in batch
// ingress, about a twelfth of its time in this kind of VM, and a longer decay does not avoid them
// (bench/RESULTS.md, step 65). In an arena that never purges by itself, a flushed memtable's pages
// are the next one's; what it keeps is bounded by the most the thread held at once, and the daemon
// hands that back once the thread has gone quiet (App::start_maintenance), so that a daemon at rest
// is as small as before. Everything else keeps jemalloc's purging.
#pragma once

#include <cstdint>
#include <optional>

namespace hookd {

// Moves the calling thread's allocations to a new arena that never purges by itself. Its index;
// nothing (and nothing changed) where the process does not run on jemalloc, as in sanitizer builds.
std::optional<unsigned> use_unpurged_arena();

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
