#include "net/event_loops.hpp"

#include <pthread.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdlib>
#include <exception>
#include <string>

namespace hookd {

EventLoops::EventLoops(std::size_t count) {
  count = std::max<std::size_t>(count, 1);
  for (std::size_t i = 0; i < count; ++i) {
    // Concurrency hint 1: each loop is run by one thread, which lets Asio skip some locking.
    loops_.push_back(std::make_unique<net::io_context>(1));
    work_.push_back(net::make_work_guard(*loops_.back()));
  }
  for (auto& loop : loops_)
    threads_.emplace_back([&io = *loop, name = "hookd-io-" + std::to_string(threads_.size())] {
      ::pthread_setname_np(::pthread_self(), name.c_str());  // for top -H, perf and gdb
      try {
        io.run();
      } catch (const std::exception& e) {
        // A handler threw: a bug. End the process loudly rather than lose a loop quietly.
        spdlog::critical("event loop: {}", e.what());
        std::abort();
      }
    });
}

EventLoops::~EventLoops() {
  for (auto& loop : loops_) loop->stop();
  join();
}

net::io_context& EventLoops::next() { return *loops_[next_.fetch_add(1, std::memory_order_relaxed) % loops_.size()]; }

void EventLoops::release() {
  if (released_.exchange(true)) return;
  for (auto& work : work_) work.reset();
}

void EventLoops::join() {
  for (auto& thread : threads_)
    if (thread.joinable()) thread.join();
}

}  // namespace hookd
