// The request and response types every handler works with, and what a listener knows about a request.
#pragma once

#include <string>

#include "net/net.hpp"

namespace hookd::api {

using Request = http::request<http::string_body>;
using Response = http::response<http::string_body>;

// Facts about a request that are not in its bytes.
struct RequestInfo {
  bool tls = false;  // arrived over HTTPS
};

// Whatever answers requests for a listener. handle() is called on the connection's executor and
// may complete on another thread; it must always produce a response.
class RequestHandler {
 public:
  virtual ~RequestHandler() = default;
  virtual net::awaitable<Response> handle(Request request, RequestInfo info) = 0;
};

// Runs `answer` (a blocking, synchronous function returning a Result) on `pool`, then completes
// `token` on the caller's executor with the result. Deliberately not a coroutine: GCC 12 mishandles
// callables passed by value into coroutine frames.
template <class Result, class Answer, class CompletionToken>
auto async_run_on(net::any_io_executor pool, Answer answer, CompletionToken&& token) {
  return net::async_initiate<CompletionToken, void(Result)>(
      [pool](auto handler, Answer answer) {
        auto work = net::make_work_guard(net::get_associated_executor(handler));
        net::post(pool, [handler = std::move(handler), answer = std::move(answer), work = std::move(work)]() mutable {
          Result res = answer();
          auto ex = work.get_executor();
          net::post(ex, [handler = std::move(handler), res = std::move(res)]() mutable { handler(std::move(res)); });
        });
      },
      token, std::move(answer));
}

template <class Answer, class CompletionToken>
auto async_answer_on(net::any_io_executor pool, Answer answer, CompletionToken&& token) {
  return async_run_on<Response>(std::move(pool), std::move(answer), std::forward<CompletionToken>(token));
}

}  // namespace hookd::api
