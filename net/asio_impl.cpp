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

#define io_uring_prep_cancel hookd_io_uring_prep_cancel
#define io_uring_prep_timeout_remove hookd_io_uring_prep_timeout_remove
#endif

#include <boost/asio/impl/src.hpp>
#include <boost/asio/ssl/impl/src.hpp>
#include <boost/beast/src.hpp>
