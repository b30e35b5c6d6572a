#include "bench/load/publisher.hpp"

#include <algorithm>
#include <chrono>
#include <fstream>
#include <numeric>
#include <stdexcept>

#include "bench/load/stats.hpp"
#include "engine/delivery_client.hpp"
#include "net/net.hpp"

namespace hookd::bench {

std::string event_data(std::size_t n, std::int64_t t_ns, std::size_t bytes) {
  std::string data = "{\"n\":" + std::to_string(n) + ",\"t\":" + std::to_string(t_ns) + ",\"pad\":\"";
  std::size_t pad = bytes > data.size() + 2 ? bytes - data.size() - 2 : 0;
  data.append(pad, 'x');
  data += "\"}";
  return data;
}

namespace {

class Run {
 public:
  explicit Run(const PublishOptions& options) : options_(options) {
    requests_ = (options.events + options.batch - 1) / options.batch;
    result_.ack_latency_ns.reserve(requests_);
    result_.ack_sent_ns.reserve(requests_);
  }

  PublishResult go() {
    start_ns_ = now_ns();
    for (std::size_t c = 0; c < std::min(options_.connections, requests_); ++c)
      net::co_spawn(io_, publisher(), net::detached);
    io_.run();
    result_.seconds = static_cast<double>(last_ack_ns_ - start_ns_) / 1e9;
    return std::move(result_);
  }

 private:
  // The body of request r, its events' publish time stamped now.
  std::string body(std::size_t r) const {
    std::size_t first = r * options_.batch, last = std::min(first + options_.batch, options_.events);
    std::int64_t t = now_ns();
    auto event = [&](std::size_t n) {
      return "{\"id\":\"" + options_.run_id + "-" + std::to_string(n) + "\",\"type\":\"" + options_.type_of(n) +
             "\",\"data\":" + event_data(n, t, options_.body_bytes) + "}";
    };
    if (options_.batch == 1) return event(first);
    std::string out = "{\"events\":[";
    for (std::size_t n = first; n < last; ++n) out += (n > first ? "," : "") + event(n);
    return out + "]}";
  }

  // One of C publishers, each with one request in flight at a time: at most C keep-alive
  // connections, pooled by hookd's own delivery client (as in the direct mode), whose head written
  // by hand costs the tool less CPU per request than Beast's serializer did (bench/RESULTS.md, 30).
  net::awaitable<void> publisher() {
    const std::string url = "http://" + options_.host + ":" + std::to_string(options_.port) +
                            (options_.batch == 1 ? "/v2/events/" : "/v2/events/batch/");
    // With a rate, request r is due at start + r / (rate / batch); each publisher takes the next.
    double interval_ns = options_.rate > 0 ? 1e9 * static_cast<double>(options_.batch) / options_.rate : 0;
    net::steady_timer pace(io_);
    for (std::size_t r = next_++; r < requests_; r = next_++) {
      if (interval_ns > 0) {
        auto due = std::chrono::nanoseconds(static_cast<std::int64_t>(interval_ns * static_cast<double>(r)));
        pace.expires_at(std::chrono::steady_clock::time_point(std::chrono::nanoseconds(start_ns_)) + due);
        co_await pace.async_wait(net::as_tuple(net::use_awaitable));
      }
      engine::OutgoingRequest request{url, std::make_shared<const std::string>(body(r)),
                                      {{"Authorization", "Token " + options_.key},
                                       {"Integration-ID", options_.integration}}};
      for (int attempt = 0;; ++attempt) {
        if (attempt == 50) {
          result_.error = "request " + std::to_string(r) + " failed 50 times";
          io_.stop();
          co_return;
        }
        if (attempt > 0) {
          ++result_.resent;
          pace.expires_after(std::chrono::milliseconds(10 * attempt));
          co_await pace.async_wait(net::as_tuple(net::use_awaitable));
        }
        std::int64_t sent = now_ns();
        engine::ClientResult res = co_await client_.post(request);
        if (res.error != engine::ErrorKind::None) continue;  // connection lost: the same ids again
        if (res.status != 202 && res.status != 200) {
          if (res.status >= 500 && res.status != 503) ++result_.server_errors;
          continue;  // 503 (disk) or 409 (being published): the same ids again
        }
        std::int64_t done = now_ns();
        result_.ack_latency_ns.push_back(done - sent);
        result_.ack_sent_ns.push_back(sent);
        result_.acknowledged += std::min(options_.batch, options_.events - r * options_.batch);
        last_ack_ns_ = std::max(last_ack_ns_, done);
        break;
      }
    }
  }

  static engine::ClientOptions client_options() {
    engine::ClientOptions o;
    o.allow_private_targets = true;     // hookd listens on loopback
    o.timeout = std::chrono::seconds(60);
    return o;
  }

  const PublishOptions& options_;
  net::io_context io_{1};
  engine::DeliveryClient client_{io_.get_executor(), client_options()};
  std::size_t requests_ = 0;
  std::size_t next_ = 0;
  std::int64_t start_ns_ = 0;
  std::int64_t last_ack_ns_ = 0;
  PublishResult result_;
};

}  // namespace

PublishResult publish(const PublishOptions& options) { return Run(options).go(); }

void write_ack_log(const std::string& path, const PublishResult& result) {
  std::vector<std::size_t> order(result.ack_sent_ns.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::sort(order.begin(), order.end(), [&](auto a, auto b) { return result.ack_sent_ns[a] < result.ack_sent_ns[b]; });
  std::int64_t unix_minus_steady =
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch()).count() -
      now_ns();
  std::ofstream out(path);
  for (std::size_t i : order) out << result.ack_sent_ns[i] + unix_minus_steady << ' ' << result.ack_latency_ns[i] << '\n';
  if (!out.flush()) throw std::runtime_error("cannot write the ack log " + path);
}

}  // namespace hookd::bench
