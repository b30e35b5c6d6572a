#include "api/webhooks.hpp"

#include <boost/url/parse.hpp>
#include <algorithm>

#include "api/body.hpp"
#include "api/errors.hpp"
#include "api/pagination.hpp"
#include "signing/crypto.hpp"

namespace hookd::api {
namespace {

namespace json = boost::json;

constexpr FieldKind kFields[] = {
    {"id", FieldKind::Scalar},         {"url", FieldKind::Scalar},       {"events", FieldKind::List},
    {"secret_key", FieldKind::Scalar}, {"metadata", FieldKind::Object},
};

std::string trim(std::string_view s) {
  auto first = s.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) return {};
  auto last = s.find_last_not_of(" \t\r\n");
  return std::string(s.substr(first, last - first + 1));
}

// A string field as the documented API reads it: numbers become strings, whitespace is trimmed,
// blank and over-long values are refused.
std::optional<std::string> read_string(const json::value& v, std::string_view field, std::size_t max_length,
                                       FieldErrors& errors) {
  std::string s;
  switch (v.kind()) {
    case json::kind::null: errors.add(field, "This field may not be null."); return std::nullopt;
    case json::kind::string: s = trim(v.get_string()); break;
    case json::kind::int64:
    case json::kind::uint64:
    case json::kind::double_: s = json::serialize(v); break;
    default: errors.add(field, "Not a valid string."); return std::nullopt;
  }
  if (s.empty()) {
    errors.add(field, "This field may not be blank.");
    return std::nullopt;
  }
  if (s.size() > max_length) {
    errors.add(field, "Ensure this field has no more than " + std::to_string(max_length) + " characters.");
    return std::nullopt;
  }
  return s;
}

bool valid_url(std::string_view s) {
  auto parsed = boost::urls::parse_absolute_uri(s);
  if (!parsed) return false;
  std::string scheme(parsed->scheme());
  std::transform(scheme.begin(), scheme.end(), scheme.begin(), [](unsigned char c) { return std::tolower(c); });
  return (scheme == "http" || scheme == "https") && parsed->has_authority() && !parsed->encoded_host().empty();
}

}  // namespace

WebhooksApi::WebhooksApi(storage::Store& store, std::vector<std::string> event_types,
                         std::function<std::int64_t()> now_ms, const EngineHooks& hooks)
    : store_(store), event_types_(std::move(event_types)), now_ms_(std::move(now_ms)), hooks_(hooks) {}

json::object WebhooksApi::to_json(const storage::Webhook& w) {
  json::array events;
  for (const auto& e : w.events) events.emplace_back(e);
  json::object o;
  o["id"] = w.id;
  o["url"] = w.url;
  o["events"] = std::move(events);
  o["secret_key"] = w.secret_key;
  o["metadata"] = json::parse(w.metadata_json);
  return o;
}

void WebhooksApi::apply(const json::object& body, Mode mode, storage::Webhook& w, FieldErrors& errors) const {
  bool partial = mode == Mode::Update;
  auto required = [&](std::string_view field) {
    if (!partial && !body.contains(field)) {
      errors.add(field, "This field is required.");
      return false;
    }
    return body.contains(field);
  };

  if (auto it = body.find("id"); it != body.end()) {
    if (auto id = read_string(it->value(), "id", kMaxStringLength, errors)) w.id = *id;
  }

  if (required("url")) {
    if (auto url = read_string(body.at("url"), "url", kMaxUrlLength, errors)) {
      if (valid_url(*url))
        w.url = *url;
      else
        errors.add("url", "Enter a valid URL.");
    }
  }

  if (required("events")) {
    const json::value& v = body.at("events");
    if (v.is_null()) {
      errors.add("events", "This field may not be null.");
    } else if (!v.is_array()) {
      errors.add("events", "Expected a list of items but got type \"" + std::string(python_type_name(v)) + "\".");
    } else if (v.get_array().empty()) {
      errors.add("events", "This list may not be empty.");
    } else {
      std::vector<std::string> events;
      for (const auto& item : v.get_array()) {
        std::string name = item.is_string() ? std::string(item.get_string()) : json::serialize(item);
        bool known = item.is_string() && std::find(event_types_.begin(), event_types_.end(), name) != event_types_.end();
        if (!known)
          errors.add("events", "\"" + name + "\" is not a valid choice.");
        else if (std::find(events.begin(), events.end(), name) == events.end())
          events.push_back(std::move(name));  // duplicates folded, first order kept
      }
      w.events = std::move(events);
    }
  }

  if (auto it = body.find("secret_key"); it != body.end()) {
    if (auto secret = read_string(it->value(), "secret_key", kMaxStringLength, errors)) w.secret_key = *secret;
  } else if (mode != Mode::Update) {
    w.secret_key = signing::random_alnum(kSecretLength);
  }

  if (auto it = body.find("metadata"); it != body.end()) {
    const json::value& v = it->value();
    if (v.is_null())
      errors.add("metadata", "This field may not be null.");
    else if (!v.is_object())
      errors.add("metadata",
                 "Expected a dictionary of items but got type \"" + std::string(python_type_name(v)) + "\".");
    else
      w.metadata_json = json::serialize(v);
  } else if (mode != Mode::Update) {
    w.metadata_json = "{}";
  }
}

Response WebhooksApi::list(Context& ctx) const {
  return paginate(
      ctx, [&](std::uint64_t offset, std::uint64_t limit) { return store_.list_webhooks(ctx.integration_id, offset, limit); },
      [](const storage::Webhook& w) { return to_json(w); });
}

Response WebhooksApi::create(Context& ctx) const {
  auto body = parse_body(ctx.request, kFields);
  if (auto* error = std::get_if<Response>(&body)) return std::move(*error);

  storage::Webhook w;
  w.integration_id = ctx.integration_id;
  w.id = signing::uuid4();
  w.created_at_ms = now_ms_();
  FieldErrors errors;
  apply(std::get<json::object>(body), Mode::Create, w, errors);
  if (!errors.has("id") && store_.find_webhook(w.integration_id, w.id))
    errors.add("id", "webhook with this id already exists.");
  if (!errors.empty()) return errors.response();

  w.seq = store_.next_webhook_seq();
  ctx.batch->put_webhook(w);
  return json_response(http::status::created, to_json(w));
}

Response WebhooksApi::retrieve(Context& ctx) const {
  auto w = store_.find_webhook(ctx.integration_id, ctx.params.at(0));
  if (!w) return error_response(ApiError::NotFound);
  return json_response(http::status::ok, to_json(*w));
}

Response WebhooksApi::update(Context& ctx) const { return save(ctx, Mode::Update); }
Response WebhooksApi::replace(Context& ctx) const { return save(ctx, Mode::Replace); }

Response WebhooksApi::save(Context& ctx, Mode mode) const {
  auto current = store_.find_webhook(ctx.integration_id, ctx.params.at(0));
  if (!current) return error_response(ApiError::NotFound);
  auto body = parse_body(ctx.request, kFields);
  if (auto* error = std::get_if<Response>(&body)) return std::move(*error);

  storage::Webhook w = *current;
  FieldErrors errors;
  apply(std::get<json::object>(body), mode, w, errors);
  if (!errors.has("id") && w.id != current->id && store_.find_webhook(w.integration_id, w.id))
    errors.add("id", "webhook with this id already exists.");
  if (!errors.empty()) return errors.response();

  ctx.batch->put_webhook(w, current->id);
  return json_response(http::status::ok, to_json(w));
}

Response WebhooksApi::destroy(Context& ctx) const {
  auto w = store_.find_webhook(ctx.integration_id, ctx.params.at(0));
  if (!w) return error_response(ApiError::NotFound);
  ctx.batch->delete_webhook(*w);
  ctx.on_commit = [this, integration = w->integration_id, seq = w->seq](bool durable) {
    if (durable && hooks_.webhook_deleted) hooks_.webhook_deleted(integration, seq);
  };
  return Response{http::status::no_content, 11};
}

}  // namespace hookd::api
