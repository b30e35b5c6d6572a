// Turns a request body into a JSON object, whichever encoding the client used.
//
// JSON bodies must be objects. Form bodies (application/x-www-form-urlencoded) are mapped with the
// help of the fields' kinds: a List field from repeated keys (events=A&events=B), indexed keys
// (events[0]=A) or "events[]"; an Object field from a JSON string (metadata={"a":1}) or from
// keyed entries (metadata[a]=1); a Scalar from its last value. Keys not named are ignored.
#pragma once

#include <boost/json.hpp>
#include <optional>
#include <span>
#include <string_view>
#include <variant>

#include "api/http_types.hpp"

namespace hookd::api {

struct FieldKind {
  enum Kind { Scalar, List, Object };
  std::string_view name;
  Kind kind;
};

// The body as an object, or the error response (400 parse error, 415 content type).
// An empty body without a content type is an empty object. A JSON document takes its memory from
// `storage` (the default: the heap), which must outlive it.
std::variant<boost::json::object, Response> parse_body(const Request& request, std::span<const FieldKind> fields,
                                                       boost::json::storage_ptr storage = {});

// Memory for the document of one request parsed on this thread: a buffer kept by the thread and
// used again by its next request, so that building a document allocates nothing until the buffer
// is full and freeing it costs nothing. (An arena of fresh memory per request cost more than the
// heap: its pages are faulted in every time.) Documents made with storage() must not outlive the
// arena. A second arena alive on the same thread finds the buffer taken and uses the heap.
class BodyArena {
 public:
  BodyArena();
  ~BodyArena();
  BodyArena(const BodyArena&) = delete;
  BodyArena& operator=(const BodyArena&) = delete;

  // Non-owning: documents made with it are freed without a walk of their values.
  boost::json::storage_ptr storage() {
    return resource_ ? boost::json::storage_ptr(&*resource_) : boost::json::storage_ptr();
  }

 private:
  std::optional<boost::json::monotonic_resource> resource_;  // empty: the heap
};

// Decodes an application/x-www-form-urlencoded string into (name, value) pairs, in order.
std::vector<std::pair<std::string, std::string>> parse_form(std::string_view body);

// `s` (a header value, say) safe to quote in an answer: at most 200 characters, each byte outside
// printable ASCII replaced by '?'. Header values may hold any byte; JSON answers must be UTF-8.
std::string printable(std::string_view s);

// The JSON type name the documented API uses in messages: "str", "list", "int", "NoneType"...
std::string_view python_type_name(const boost::json::value& v);

}  // namespace hookd::api
