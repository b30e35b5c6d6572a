// The group committer for Asio code: co_await async_group_commit(committer, batch, use_awaitable)
// suspends the caller, not its thread, until the batch is durable (or failed), then resumes it on
// its own executor. Header-only, so that storage itself does not depend on Asio.
#pragma once

#include <memory>

#include "net/net.hpp"
#include "storage/group_commit.hpp"

namespace hookd::storage {

template <class CompletionToken>
auto async_group_commit(GroupCommitter& committer, Batch batch, CompletionToken&& token) {
  return net::async_initiate<CompletionToken, void(WriteStatus)>(
      [&committer](auto handler, Batch batch) {
        // The committer's callback must be copyable; the handler is not.
        auto work = std::make_shared<decltype(net::make_work_guard(net::get_associated_executor(handler)))>(
            net::make_work_guard(net::get_associated_executor(handler)));
        auto shared = std::make_shared<decltype(handler)>(std::move(handler));
        committer.submit(std::move(batch), [shared, work](const WriteStatus& status) {
          net::post(work->get_executor(), [shared, work, status]() mutable { (*shared)(status); });
        });
      },
      token, std::move(batch));
}

}  // namespace hookd::storage
