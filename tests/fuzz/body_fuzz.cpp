// The body decoder alone (api/body.hpp): JSON and form encodings against every field kind, with
// the content type chosen by the first byte and, by its third bit, the heap or a BodyArena. It
// must answer an object or a 400/415, nothing else.
#include "api/body.hpp"
#include "tests/fuzz/fuzz_api.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace hookd;
  if (size == 0) return 0;
  static constexpr api::FieldKind kFields[] = {
      {"url", api::FieldKind::Scalar}, {"events", api::FieldKind::List}, {"metadata", api::FieldKind::Object},
      {"id", api::FieldKind::Scalar},  {"data", api::FieldKind::Object}, {"type", api::FieldKind::Scalar}};
  const std::string_view types[] = {"application/json", "application/x-www-form-urlencoded",
                                    "application/json; charset=utf-8", "text/plain"};
  api::Request request(http::verb::post, "/", 11);
  request.set(http::field::content_type, types[data[0] & 3]);
  request.body().assign(reinterpret_cast<const char*>(data + 1), size - 1);
  std::optional<api::BodyArena> arena;  // half the inputs parsed into the thread's arena buffer
  if (data[0] & 4) arena.emplace();
  auto parsed = api::parse_body(request, kFields, arena ? arena->storage() : boost::json::storage_ptr());
  if (auto* res = std::get_if<api::Response>(&parsed)) {
    if (res->result() != http::status::bad_request && res->result() != http::status::unsupported_media_type)
      fuzz::fail("parse_body answered " + std::to_string(res->result_int()));
  }
  return 0;
}
