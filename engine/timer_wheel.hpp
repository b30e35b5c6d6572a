// A hierarchical timer wheel: items with due times in, due items out, O(1) insert. An item never
// comes out before its due time, and at most one tick after it.
//
// Four levels of 64 slots; a level-0 slot spans one tick, a level-k slot 64^k ticks. Advancing
// across a level boundary cascades the next slot of the level above into finer slots. Items due
// further out than the wheel spans (64^4 ticks) wait in an overflow list that is re-sorted in as
// time advances. The wheel knows nothing of time sources: the caller says what "now" is.
//
// Not thread-safe: one owner (the dispatcher's event loop).
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <optional>
#include <utility>
#include <vector>

namespace hookd::engine {

template <class T>
class TimerWheel {
 public:
  static constexpr int kLevels = 4;
  static constexpr int kSlotBits = 6;
  static constexpr std::int64_t kSlots = 1 << kSlotBits;

  // `start_ms` is "now" at creation; `tick_ms` the resolution.
  explicit TimerWheel(std::int64_t start_ms, std::int64_t tick_ms = 10) : tick_ms_(tick_ms), now_tick_(start_ms / tick_ms) {}

  // Adds `item`, due at `due_ms`. An item due already comes out of the next advance().
  // It goes in the slot of the first tick boundary at or after its due time.
  void insert(std::int64_t due_ms, T item) {
    ++size_;
    place(Entry{due_ms, std::move(item)});
  }

  // Moves time to `now_ms` and appends every item due at or before it to `out`.
  void advance(std::int64_t now_ms, std::vector<T>& out) {
    std::int64_t target = now_ms / tick_ms_;
    while (now_tick_ < target && size_ > due_now_.size()) {
      // With every level below L empty, nothing happens before the next level-L boundary: jump.
      int lowest = 0;
      while (lowest < kLevels && counts_[static_cast<std::size_t>(lowest)] == 0) ++lowest;
      if (lowest > 0) {
        std::int64_t boundary = ((now_tick_ >> (kSlotBits * lowest)) + 1) << (kSlotBits * lowest);
        now_tick_ = std::min(boundary - 1, target);
        if (now_tick_ == target) break;
      }
      ++now_tick_;
      // Crossing into a new slot of level k spreads that slot over the finer levels; the highest
      // level goes first, so that what it drops into a lower level's current slot cascades too.
      int top = 0;
      while (top < kLevels && (now_tick_ & mask(top)) == 0) ++top;
      if (top == kLevels) cascade_overflow();
      for (int level = std::min(top, kLevels - 1); level >= 1; --level) cascade(level, slot_index(now_tick_, level));
      auto& slot = levels_[0][static_cast<std::size_t>(now_tick_ & (kSlots - 1))];
      counts_[0] -= slot.size();
      take(slot, out);
    }
    if (now_tick_ < target) now_tick_ = target;  // nothing left in the wheel: jump
    take(due_now_, out);
  }

  // The earliest time anything could fall due: the first non-empty level-0 slot, else the next time
  // a higher level cascades. nullopt when the wheel is empty.
  std::optional<std::int64_t> next_wakeup_ms() const {
    if (size_ == 0) return std::nullopt;
    if (!due_now_.empty()) return now_tick_ * tick_ms_;
    for (std::int64_t t = now_tick_ + 1; t <= now_tick_ + kSlots; ++t) {
      if ((t & (kSlots - 1)) == 0) return t * tick_ms_;  // a cascade may bring items down
      if (!levels_[0][static_cast<std::size_t>(t & (kSlots - 1))].empty()) return t * tick_ms_;
    }
    return (now_tick_ + kSlots) * tick_ms_;
  }

  std::size_t size() const { return size_; }
  std::int64_t now_ms() const { return now_tick_ * tick_ms_; }

 private:
  struct Entry {
    std::int64_t due_ms;
    T item;
  };
  using Slot = std::vector<Entry>;

  static constexpr std::int64_t mask(int level) { return (std::int64_t{1} << (kSlotBits * (level + 1))) - 1; }
  static std::size_t slot_index(std::int64_t tick, int level) {
    return static_cast<std::size_t>((tick >> (kSlotBits * level)) & (kSlots - 1));
  }

  void place(Entry e) {
    std::int64_t tick = (e.due_ms + tick_ms_ - 1) / tick_ms_;  // rounded up: never early
    if (tick <= now_tick_) {
      due_now_.push_back(std::move(e));
      return;
    }
    // The lowest level whose span around now still reaches the due tick.
    for (int level = 0; level < kLevels; ++level) {
      if ((tick >> (kSlotBits * (level + 1))) == (now_tick_ >> (kSlotBits * (level + 1)))) {
        levels_[static_cast<std::size_t>(level)][slot_index(tick, level)].push_back(std::move(e));
        ++counts_[static_cast<std::size_t>(level)];
        return;
      }
    }
    overflow_.push_back(std::move(e));
    ++counts_[kLevels];
  }

  void cascade(int level, std::size_t slot) {
    Slot moving = std::move(levels_[static_cast<std::size_t>(level)][slot]);
    levels_[static_cast<std::size_t>(level)][slot].clear();
    counts_[static_cast<std::size_t>(level)] -= moving.size();
    for (auto& e : moving) place(std::move(e));
  }

  void cascade_overflow() {
    Slot moving = std::move(overflow_);
    overflow_.clear();
    counts_[kLevels] = 0;
    for (auto& e : moving) place(std::move(e));
  }

  void take(Slot& slot, std::vector<T>& out) {
    for (auto& e : slot) out.push_back(std::move(e.item));
    size_ -= slot.size();
    slot.clear();
  }

  std::int64_t tick_ms_;
  std::int64_t now_tick_;
  std::size_t size_ = 0;
  std::array<std::size_t, kLevels + 1> counts_{};  // items per level; the last is the overflow
  Slot due_now_;
  std::array<std::array<Slot, kSlots>, kLevels> levels_{};
  Slot overflow_;
};

}  // namespace hookd::engine
