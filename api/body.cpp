#include "api/body.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <map>
#include <memory>

#include "api/errors.hpp"

namespace hookd::api {
namespace {

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Well-formed UTF-8 as RFC 3629 defines it: no overlong forms, no surrogates, nothing past U+10FFFF.
// JSON bodies get this check from the parser; percent-decoded form values need it here, or bytes
// that no JSON document may hold would be stored and sent on.
bool valid_utf8(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    std::size_t len = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC2 ? 2 : 0;
    if (len == 0 || c > 0xF4 || i + len > s.size()) return false;
    std::uint32_t cp = c & (0xFF >> (len + 1));
    for (std::size_t k = 1; k < len; ++k) {
      auto next = static_cast<unsigned char>(s[i + k]);
      if ((next & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (next & 0x3F);
    }
    static constexpr std::uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < kMin[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += len;
  }
  return true;
}

std::string form_decode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') {
      out.push_back(' ');
    } else if (s[i] == '%' && i + 2 < s.size() && hex_digit(s[i + 1]) >= 0 && hex_digit(s[i + 2]) >= 0) {
      out.push_back(static_cast<char>(hex_digit(s[i + 1]) * 16 + hex_digit(s[i + 2])));
      i += 2;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

// Lowercased media type without parameters: "Application/JSON; charset=utf-8" -> "application/json".
std::string media_type(std::string_view content_type) {
  auto semi = content_type.find(';');
  std::string_view t = content_type.substr(0, semi);
  while (!t.empty() && t.back() == ' ') t.remove_suffix(1);
  while (!t.empty() && t.front() == ' ') t.remove_prefix(1);
  std::string out(t);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

// "events[3]" -> ("events", "3"); "events" -> ("events", nullopt).
std::pair<std::string_view, std::optional<std::string_view>> split_key(std::string_view key) {
  auto open = key.find('[');
  if (open == std::string_view::npos || key.back() != ']') return {key, std::nullopt};
  return {key.substr(0, open), key.substr(open + 1, key.size() - open - 2)};
}

// JSON has no infinity: a number too large for a double would be stored as one and could not be
// written out again. Depth is bounded by the parser's max_depth.
bool all_finite(const boost::json::value& v) {
  switch (v.kind()) {
    case boost::json::kind::double_: return std::isfinite(v.get_double());
    case boost::json::kind::array:
      return std::all_of(v.get_array().begin(), v.get_array().end(), [](const auto& e) { return all_finite(e); });
    case boost::json::kind::object:
      return std::all_of(v.get_object().begin(), v.get_object().end(),
                         [](const auto& kv) { return all_finite(kv.value()); });
    default: return true;
  }
}

std::variant<boost::json::object, Response> from_form(std::string_view body, std::span<const FieldKind> fields) {
  boost::json::object out;
  std::map<std::string_view, std::vector<std::pair<long, std::string>>> lists;  // name -> (order, value)
  long order = 0;
  for (auto& [key, value] : parse_form(body)) {
    if (!valid_utf8(key) || !valid_utf8(value))
      return error_response(ApiError::MalformedRequest, "Form parse error - invalid UTF-8.");
    auto [name, sub] = split_key(key);
    auto field = std::find_if(fields.begin(), fields.end(), [name = name](const FieldKind& f) { return f.name == name; });
    if (field == fields.end()) continue;
    switch (field->kind) {
      case FieldKind::Scalar:
        if (!sub) out[field->name] = value;
        break;
      case FieldKind::List: {
        long position = order++;
        if (sub && !sub->empty()) {
          long index = 0;
          auto [p, ec] = std::from_chars(sub->data(), sub->data() + sub->size(), index);
          if (ec != std::errc() || p != sub->data() + sub->size()) continue;
          position = index - (1L << 40);  // indexed entries keep their index order, before plain ones
        }
        lists[field->name].emplace_back(position, value);
        break;
      }
      case FieldKind::Object:
        if (sub) {
          if (!out[field->name].is_object()) out[field->name] = boost::json::object{};
          out[field->name].as_object()[*sub] = value;
        } else {
          boost::system::error_code ec;
          boost::json::value parsed = boost::json::parse(value, ec);
          // A value that is not JSON stays a string; validation then reports the wrong type.
          out[field->name] = ec || !all_finite(parsed) ? boost::json::value(value) : std::move(parsed);
        }
        break;
    }
  }
  for (auto& [name, entries] : lists) {
    std::stable_sort(entries.begin(), entries.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    boost::json::array values;
    for (auto& e : entries) values.emplace_back(e.second);
    out[name] = std::move(values);
  }
  return out;
}

}  // namespace

std::vector<std::pair<std::string, std::string>> parse_form(std::string_view body) {
  std::vector<std::pair<std::string, std::string>> out;
  std::size_t start = 0;
  while (start < body.size()) {
    std::size_t end = body.find('&', start);
    if (end == std::string_view::npos) end = body.size();
    std::string_view pair = body.substr(start, end - start);
    if (!pair.empty()) {
      auto eq = pair.find('=');
      std::string_view k = pair.substr(0, eq);
      std::string_view v = eq == std::string_view::npos ? std::string_view{} : pair.substr(eq + 1);
      out.emplace_back(form_decode(k), form_decode(v));
    }
    start = end + 1;
  }
  return out;
}

std::string_view python_type_name(const boost::json::value& v) {
  switch (v.kind()) {
    case boost::json::kind::null: return "NoneType";
    case boost::json::kind::bool_: return "bool";
    case boost::json::kind::int64:
    case boost::json::kind::uint64: return "int";
    case boost::json::kind::double_: return "float";
    case boost::json::kind::string: return "str";
    case boost::json::kind::array: return "list";
    case boost::json::kind::object: return "dict";
  }
  return "object";
}

std::string printable(std::string_view s) {
  std::string out(s.substr(0, 200));
  for (char& c : out)
    if (auto u = static_cast<unsigned char>(c); u < 0x20 || u > 0x7E) c = '?';
  return out;
}

namespace {

// Enough for a batch of 100 events of 1 KiB; a larger document continues on the heap.
constexpr std::size_t kArenaBufferBytes = 256 * 1024;
thread_local bool arena_buffer_in_use = false;

unsigned char* arena_buffer() {
  thread_local std::unique_ptr<unsigned char[]> buffer(new unsigned char[kArenaBufferBytes]);
  return buffer.get();
}

}  // namespace

BodyArena::BodyArena() {
  if (arena_buffer_in_use) return;
  arena_buffer_in_use = true;
  resource_.emplace(arena_buffer(), kArenaBufferBytes);
}

BodyArena::~BodyArena() {
  if (!resource_) return;
  resource_.reset();  // frees what the document took beyond the buffer
  arena_buffer_in_use = false;
}

std::variant<boost::json::object, Response> parse_body(const Request& request, std::span<const FieldKind> fields,
                                                       boost::json::storage_ptr storage) {
  const std::string& body = request.body();
  auto header = request.find(http::field::content_type);
  if (header == request.end()) {
    if (body.empty()) return boost::json::object{};
    return error_response(ApiError::UnsupportedMediaType, "Unsupported media type \"\" in request.");
  }
  std::string type = media_type(header->value());
  if (type == "application/x-www-form-urlencoded") return from_form(body, fields);
  if (type != "application/json")
    return error_response(ApiError::UnsupportedMediaType,
                          "Unsupported media type \"" + printable(header->value()) + "\" in request.");

  boost::json::parse_options options;
  options.max_depth = 64;  // deeper nesting is refused rather than recursed into
  boost::json::stream_parser parser({}, options);
  parser.reset(std::move(storage));
  boost::system::error_code ec;
  std::size_t used = parser.write_some(body.data(), body.size(), ec);
  if (!ec) parser.finish(ec);
  if (ec)
    return error_response(ApiError::MalformedRequest,
                          "JSON parse error - " + ec.message() + " (char " + std::to_string(used) + ")");
  boost::json::value v = parser.release();
  if (!all_finite(v)) return error_response(ApiError::MalformedRequest, "JSON parse error - number out of range");
  if (!v.is_object()) {
    FieldErrors errors;
    errors.add("non_field_errors",
               "Invalid data. Expected a dictionary, but got " + std::string(python_type_name(v)) + ".");
    return errors.response();
  }
  return std::move(v.as_object());
}

}  // namespace hookd::api
