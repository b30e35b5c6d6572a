// Raw bytes as an HTTP request: Beast's parser with the listener's limits, then routing, target
// parsing, authentication and whichever handler the path names. The low bit of the first byte
// decides whether the request carries a valid key, so that the fuzzer reaches the handlers too.
#include <boost/beast/http.hpp>

#include "tests/fuzz/fuzz_api.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace hookd;
  if (size == 0) return 0;
  bool with_key = data[0] & 1;
  http::request_parser<http::string_body> parser;
  parser.header_limit(16 << 10);
  parser.body_limit(1 << 20);
  parser.eager(true);
  beast::error_code ec;
  parser.put(net::buffer(data + 1, size - 1), ec);
  if (!ec && !parser.is_done()) parser.put_eof(ec);
  if (ec || !parser.is_done()) return 0;  // the listener answers 400 or closes: nothing reaches the API

  auto& api = fuzz::FuzzApi::get();
  api::Request request = parser.release();
  if (with_key) api.authorize(request);
  api.send(std::move(request));
  return 0;
}
