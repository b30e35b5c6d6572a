// A fixed set of event loops, each an io_context run by a thread of its own, to spread
// connections over the cores.
//
// A connection is placed on one loop and stays there, so its handlers never run concurrently
// with each other (no strands needed), while different connections run on different cores.
#pragma once

#include <atomic>
#include <cstddef>
#include <memory>
#include <thread>
#include <vector>

#include "net/net.hpp"

namespace hookd {

class EventLoops {
 public:
  // Starts `count` (at least 1) threads. An idle loop waits for work until release().
  explicit EventLoops(std::size_t count);
  // Stops the loops at once (handlers not yet run are destroyed with them) and joins the threads:
  // for a clean end, release() and join() first.
  ~EventLoops();
  EventLoops(const EventLoops&) = delete;
  EventLoops& operator=(const EventLoops&) = delete;

  // The loop for the next connection: round-robin. Thread-safe.
  net::io_context& next();

  // Lets each thread end once its loop runs out of work. Thread-safe.
  void release();

  // Waits for the threads to end: after release(), once the last connection is gone.
  void join();

  std::size_t size() const { return loops_.size(); }

 private:
  using WorkGuard = net::executor_work_guard<net::io_context::executor_type>;
  std::vector<std::unique_ptr<net::io_context>> loops_;
  std::vector<WorkGuard> work_;
  std::vector<std::thread> threads_;
  std::atomic<std::size_t> next_{0};
  std::atomic<bool> released_{false};
};

}  // namespace hookd
