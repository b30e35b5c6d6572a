// Asio and Beast are built once here (BOOST_*_SEPARATE_COMPILATION) rather than in every file
// that includes them, which keeps builds of the two-core CI machine short.

#if defined(BOOST_ASIO_HAS_IO_URING)
// Asio 1.81's io_uring service prepares its cancel and timeout-remove requests without setting
// their user_data: it relied on liburing before 2.2, whose prep functions cleared it. Debian's
// liburing 2.3 leaves whatever the ring slot held before, so once the submission ring has wrapped
// (16,384 requests), a cancel's own completion arrives tagged as an earlier operation's and Asio
// completes that operation with it: a pending read "finishes" twice, a shutdown waits forever
// (liburing issue #848; seen as a hang of Connections.TenThousandIdleConnectionsDoNotStopService).
// Asio's implementation is compiled only in this file, so the two prep functions it calls are
// replaced here by ones that clear user_data: a completion without data is ignored by Asio.
// (Its run_for, run_until and run_one_for tag a timeout with a stack address that can outlive
// the call, asio issue #1284: hookd does not use them.)
#include <liburing.h>

inline void hookd_io_uring_prep_cancel(io_uring_sqe* sqe, void* user_data, int flags) {
  ::io_uring_prep_cancel(sqe, user_data, flags);
  ::io_uring_sqe_set_data(sqe, nullptr);
}

inline void hookd_io_uring_prep_timeout_remove(io_uring_sqe* sqe, __u64 user_data, unsigned flags) {
  ::io_uring_prep_timeout_remove(sqe, user_data, flags);
  ::io_uring_sqe_set_data(sqe, nullptr);
}

// Asio makes its rings without flags. A socket's completion is then run as task work of the thread
// that started the operation, and if that thread is running, the kernel interrupts it for that
// (a rescheduling interrupt, 0.3 per delivery in `fanout10`), which in this kind of VM costs more
// than the work: COOP_TASKRUN leaves the work for the thread's next system call instead, and
// TASKRUN_FLAG marks the ring so that liburing's peek at an empty completion queue makes that call
// (bench/RESULTS.md, step 64; test: EventLoop.ACompletionThatCameWhileTheLoopWasBusyIsCollected...).
// Kernels before 5.19 refuse the flags: the ring is then made without them.
inline int hookd_io_uring_queue_init(unsigned entries, io_uring* ring, unsigned flags) {
  io_uring_params params{};
  params.flags = flags | IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG;
  int result = ::io_uring_queue_init_params(entries, ring, &params);
  return result == -EINVAL ? ::io_uring_queue_init(entries, ring, flags) : result;
}

#define io_uring_prep_cancel hookd_io_uring_prep_cancel
#define io_uring_prep_timeout_remove hookd_io_uring_prep_timeout_remove
#define io_uring_queue_init hookd_io_uring_queue_init
#endif

#include <boost/asio/impl/src.hpp>
#include <boost/asio/ssl/impl/src.hpp>
#include <boost/beast/src.hpp>
