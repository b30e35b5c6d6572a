#include "bench/load/receiver.hpp"

#include <charconv>

#include "bench/load/stats.hpp"
#include "signing/crypto.hpp"

namespace hookd::bench {
namespace {

// The unsigned integer after `"<name>":` in `body`, if there is one.
std::optional<std::int64_t> number_field(std::string_view body, std::string_view name) {
  std::string key = "\"" + std::string(name) + "\":";
  auto at = body.find(key);
  if (at == std::string_view::npos) return std::nullopt;
  std::int64_t value = 0;
  const char* first = body.data() + at + key.size();
  auto [end, ec] = std::from_chars(first, body.data() + body.size(), value);
  if (ec != std::errc()) return std::nullopt;
  return value;
}

}  // namespace

class Receiver::Handler final : public api::RequestHandler {
 public:
  explicit Handler(Receiver& owner) : owner_(owner) {}

  net::awaitable<api::Response> handle(api::Request request, api::RequestInfo) override {
    std::string_view target = request.target();
    std::size_t webhook = SIZE_MAX;
    if (target.starts_with("/hook/")) std::from_chars(target.data() + 6, target.data() + target.size(), webhook);
    Verdict verdict = owner_.record(webhook, request["Gigapay-Signature"], request["Webhook-Id"], request.body());
    if (owner_.options_.delay.count() > 0) {
      net::steady_timer wait(co_await net::this_coro::executor, owner_.options_.delay);
      co_await wait.async_wait(net::as_tuple(net::use_awaitable));
    }
    api::Response res{verdict.fail ? http::status::service_unavailable : http::status::ok, 11};
    res.keep_alive(request.keep_alive());
    co_return res;
  }

 private:
  Receiver& owner_;
};

Receiver::Receiver(ReceiverOptions options) : options_(std::move(options)), handler_(std::make_unique<Handler>(*this)) {
  api::ServerLimits limits;
  limits.max_connections = 100'000;
  server_ = std::make_unique<test::LoopbackServer>(*handler_, options_.tls, limits);
}

Receiver::~Receiver() { server_.reset(); }

std::string Receiver::base_url() const { return server_->base_url(); }

void Receiver::expect(std::vector<std::string> secrets, std::vector<std::uint32_t> expected_per_event) {
  std::lock_guard lock(mutex_);
  keys_.clear();
  for (const auto& s : secrets) keys_.push_back(std::make_unique<signing::Hmac>(s));
  received_.assign(expected_per_event.size(), 0);
  expected_ = std::move(expected_per_event);
  missing_ = 0;
  for (auto e : expected_) missing_ += e;
  // Sized for the round up front: rehashing a few hundred thousand ids mid-run stalls the receiver.
  seen_.clear();
  seen_.reserve(missing_);
  latencies_.clear();
  latencies_.reserve(missing_);
  tally_ = Tally{};
}

void Receiver::heal() {
  std::lock_guard lock(mutex_);
  healed_ = true;
}

Receiver::Verdict Receiver::record(std::size_t webhook, std::string_view signature, std::string_view webhook_id,
                                   std::string_view body) {
  std::int64_t now = now_ns();
  std::lock_guard lock(mutex_);
  ++tally_.requests;
  // Gigapay-Signature: t=<seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>
  bool valid = false;
  if (webhook < keys_.size() && signature.starts_with("t=")) {
    auto comma = signature.find(",v1=");
    if (comma != std::string_view::npos) {
      std::string_view t = signature.substr(2, comma - 2);
      std::string_view mac = signature.substr(comma + 4, 64);
      valid = signing::constant_time_equal(signing::hex(keys_[webhook]->digest({t, ".", body})), mac);
    }
  }
  if (!valid) {
    ++tally_.bad_signatures;
    return {};
  }
  bool failing = webhook < options_.failing_webhooks;
  if (failing && !healed_ && std::uniform_real_distribution<double>(0, 1)(random_) < options_.fail_rate) {
    ++tally_.failed_on_purpose;
    return {.fail = true};
  }
  if (!seen_.emplace(webhook_id).second) {
    ++tally_.duplicates;
    return {};
  }
  auto n = number_field(body, "n");
  auto t = number_field(body, "t");
  if (n && *n >= 0 && static_cast<std::size_t>(*n) < received_.size())
    if (received_[*n]++ < expected_[*n]) --missing_;
  if (t) latencies_.push_back(now - *t);
  ++tally_.unique;
  if (!failing || options_.fail_rate == 0) {
    ++tally_.unique_healthy;
    tally_.last_healthy_ns = now;
  }
  if (tally_.first_ns == 0) tally_.first_ns = now;
  tally_.last_ns = now;
  return {};
}

Tally Receiver::tally() const {
  std::lock_guard lock(mutex_);
  return tally_;
}

std::uint64_t Receiver::missing() const {
  std::lock_guard lock(mutex_);
  return missing_;
}

std::vector<std::int64_t> Receiver::take_latencies() {
  std::lock_guard lock(mutex_);
  return std::move(latencies_);
}

}  // namespace hookd::bench
