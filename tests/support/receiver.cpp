#include "tests/support/receiver.hpp"

#include <algorithm>

namespace hookd::test {

class Receiver::Handler final : public api::RequestHandler {
 public:
  explicit Handler(Receiver& owner) : owner_(owner) {}

  net::awaitable<api::Response> handle(api::Request request, api::RequestInfo) override {
    ReceivedRequest got;
    got.target = std::string(request.target());
    for (const auto& field : request) {
      std::string name(field.name_string());
      std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
      got.headers[name] = std::string(field.value());
    }
    got.body = request.body();
    got.at = std::chrono::steady_clock::now();

    Reply reply;
    {
      std::lock_guard lock(owner_.mutex_);
      std::size_t index = owner_.requests_.size();
      if (owner_.script_) reply = owner_.script_(got, index);
      owner_.requests_.push_back(got);
    }
    owner_.arrived_.notify_all();

    if (reply.delay.count() > 0) {
      net::steady_timer stall(co_await net::this_coro::executor, reply.delay);
      co_await stall.async_wait(net::as_tuple(net::use_awaitable));
    }
    // Polled, so that the receiver's thread goes on serving other requests meanwhile.
    while (reply.hold.valid() && reply.hold.wait_for(std::chrono::seconds(0)) != std::future_status::ready) {
      net::steady_timer poll(co_await net::this_coro::executor, std::chrono::milliseconds(1));
      co_await poll.async_wait(net::as_tuple(net::use_awaitable));
    }
    api::Response res{static_cast<http::status>(reply.status), 11};
    for (const auto& [name, value] : reply.headers) res.set(name, value);
    res.body() = reply.body;
    co_return res;
  }

 private:
  Receiver& owner_;
};

Receiver::Receiver(std::optional<TlsFiles> tls) : handler_(std::make_unique<Handler>(*this)) {
  std::optional<CertificateFiles> files;
  if (tls) files = CertificateFiles{tls->server_cert, tls->server_key};
  server_ = std::make_unique<LoopbackServer>(*handler_, files);
}

Receiver::~Receiver() { server_.reset(); }

std::string Receiver::url(const std::string& path) const { return server_->base_url() + path; }

void Receiver::script(std::function<Reply(const ReceivedRequest&, std::size_t)> script) {
  std::lock_guard lock(mutex_);
  script_ = std::move(script);
}

std::vector<ReceivedRequest> Receiver::requests() const {
  std::lock_guard lock(mutex_);
  return requests_;
}

std::size_t Receiver::count() const {
  std::lock_guard lock(mutex_);
  return requests_.size();
}

bool Receiver::wait_for(std::size_t n, std::chrono::milliseconds timeout) const {
  std::unique_lock lock(mutex_);
  return arrived_.wait_for(lock, timeout, [&] { return requests_.size() >= n; });
}

}  // namespace hookd::test
