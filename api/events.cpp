#include "api/events.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <limits>

#include "api/body.hpp"
#include "api/format.hpp"
#include "api/pagination.hpp"
#include "signing/crypto.hpp"

namespace hookd::api {
namespace {

namespace json = boost::json;

constexpr FieldKind kEventFields[] = {{"id", FieldKind::Scalar}, {"type", FieldKind::Scalar}, {"data", FieldKind::Object}};
constexpr FieldKind kBatchFields[] = {{"events", FieldKind::List}};
// What an event's records add to its body in a write batch (keys, ids, type): a guess for reserving.
constexpr std::size_t kEventRecordOverhead = 256;

json::object summary(const storage::Event& e, json::storage_ptr sp = {}) {
  json::object o(3, std::move(sp));
  o.emplace("id", e.id);
  o.emplace("type", e.type);
  o.emplace("created_at", iso8601(e.created_at_ms));
  return o;
}

std::string claim_key(const std::string& integration, const std::string& id) { return integration + '\0' + id; }

Response being_published() {
  return json_response(http::status::conflict,
                       {{"detail", "An event with this id is being published by another request; retry."}});
}

}  // namespace

EventsApi::EventsApi(storage::Store& store, std::vector<std::string> event_types, std::function<std::int64_t()> now_ms,
                     const EngineHooks& hooks)
    : store_(store), event_types_(std::move(event_types)), now_ms_(std::move(now_ms)), hooks_(hooks) {}

std::optional<EventsApi::Incoming> EventsApi::validate(const json::object& body, FieldErrors& errors) const {
  Incoming in;
  if (auto* id = body.if_contains("id")) {
    if (!id->is_string() || id->get_string().empty() || id->get_string().size() > 255)
      errors.add("id", "Must be a string of 1 to 255 characters.");
    else
      in.id = std::string(id->get_string());
  }
  auto* type = body.if_contains("type");
  if (!type)
    errors.add("type", "This field is required.");
  else if (!type->is_string() ||
           std::find(event_types_.begin(), event_types_.end(), type->get_string()) == event_types_.end())
    errors.add("type", "\"" + (type->is_string() ? std::string(type->get_string()) : json::serialize(*type)) +
                           "\" is not a valid choice.");
  else
    in.type = std::string(type->get_string());
  auto* data = body.if_contains("data");
  if (!data)
    errors.add("data", "This field is required.");
  else if (!data->is_object())
    errors.add("data", "Expected a dictionary of items but got type \"" + std::string(python_type_name(*data)) + "\".");
  else
    in.data_json = json::serialize(*data);
  if (!errors.empty()) return std::nullopt;
  return in;
}

std::shared_ptr<const storage::Event> EventsApi::fan_out(const std::string& integration_id, Incoming in,
                                                         storage::Batch& batch,
                                                         storage::CreatedDeliveries& created) const {
  std::int64_t now = now_ms_();
  auto event = std::make_shared<const storage::Event>(
      storage::Event{integration_id, store_.next_seq(storage::Store::Sequence::Event),
                     in.id ? std::move(*in.id) : signing::uuid4(), std::move(in.type), std::move(in.data_json), now});
  batch.put_event(*event);
  auto subscribed = subscriptions(integration_id);
  auto it = subscribed->find(event->type);
  if (it == subscribed->end()) return event;
  for (std::uint64_t webhook_seq : it->second) {
    storage::Delivery d;
    d.id = signing::uuid7(now);  // time-ordered: see Store, delivery records are keyed by it
    d.integration_id = integration_id;
    d.seq = store_.next_seq(storage::Store::Sequence::Delivery);
    d.event_seq = event->seq;
    d.webhook_seq = webhook_seq;
    d.next_attempt_ms = now;
    d.created_at_ms = d.updated_at_ms = now;
    created.deliveries.push_back(std::move(d));
  }
  created.events.push_back(event);
  return event;
}

void EventsApi::put_created(storage::Batch& batch, storage::CreatedDeliveries& created) const {
  created.fresh = static_cast<bool>(hooks_.deliveries_created);
  batch.put_new_deliveries(created.deliveries, created.fresh ? storage::NewDue::Fresh : storage::NewDue::Indexed);
}

std::shared_ptr<const EventsApi::Subscriptions> EventsApi::subscriptions(const std::string& integration_id) const {
  std::uint64_t version = store_.webhooks_version();  // before reading the webhooks (see Store)
  {
    std::lock_guard lock(subscriptions_mutex_);
    auto it = subscriptions_.find(integration_id);
    if (it != subscriptions_.end() && it->second.version == version) return it->second.by_type;
  }
  auto by_type = std::make_shared<Subscriptions>();
  for (const auto& w : store_.list_webhooks(integration_id, 0, std::numeric_limits<std::uint64_t>::max()).items)
    for (const auto& type : w.events) {
      auto& seqs = (*by_type)[type];
      if (seqs.empty() || seqs.back() != w.seq) seqs.push_back(w.seq);  // a type listed twice: once
    }
  std::lock_guard lock(subscriptions_mutex_);
  subscriptions_[integration_id] = {version, by_type};
  return by_type;
}

void EventsApi::notify(storage::CreatedDeliveries created, bool durable) const {
  // Also when the commit failed: a failed group sync can leave batches written but unsynced, and
  // the engine then reads every record before attempting, so telling it too much is harmless.
  if (created.deliveries.empty() || !hooks_.deliveries_created) return;
  created.durable = durable;
  hooks_.deliveries_created(std::move(created));
}

std::shared_ptr<EventsApi::Claim> EventsApi::claim(std::vector<std::string> keys) {
  std::lock_guard lock(claims_mutex_);
  for (const auto& k : keys)
    if (claims_.contains(k)) return nullptr;
  return std::make_shared<Claim>(*this, std::move(keys));
}

EventsApi::Claim::Claim(EventsApi& api, std::vector<std::string> keys) : api_(api), keys_(std::move(keys)) {
  try {
    api_.claims_.insert(keys_.begin(), keys_.end());
  } catch (...) {  // no view of keys_ may outlive them (none of them was claimed before)
    for (const auto& k : keys_) api_.claims_.erase(k);
    throw;
  }
}

EventsApi::Claim::~Claim() {
  std::lock_guard lock(api_.claims_mutex_);
  for (const auto& k : keys_) api_.claims_.erase(k);
}

Response EventsApi::publish(Context& ctx) {
  BodyArena arena;
  auto body = parse_body(ctx.request, kEventFields, arena.storage());
  if (auto* error = std::get_if<Response>(&body)) return std::move(*error);
  FieldErrors errors;
  auto in = validate(std::get<json::object>(body), errors);
  if (!in) return errors.response();

  std::vector<std::string> keys;
  if (in->id) keys.push_back(claim_key(ctx.integration_id, *in->id));
  auto claimed = claim(std::move(keys));
  if (!claimed) return being_published();
  if (in->id)
    if (auto existing = store_.find_event(ctx.integration_id, *in->id))
      return json_response(http::status::ok, summary(*existing));
  storage::Batch batch = store_.batch(ctx.request.body().size() + kEventRecordOverhead);
  storage::CreatedDeliveries created;
  auto event = fan_out(ctx.integration_id, std::move(*in), batch, created);
  put_created(batch, created);
  ctx.deferred.emplace(std::move(batch));
  ctx.held_until_answered = std::move(claimed);
  ctx.on_commit = [this, id = event->id, created = std::move(created)](bool durable) mutable {
    if (durable) ++accepted_;
    spdlog::debug("event {}: {} with {} deliveries", id, durable ? "accepted" : "not known durable",
                  created.deliveries.size());
    notify(std::move(created), durable);
  };
  return json_response(http::status::accepted, summary(*event));
}

Response EventsApi::publish_batch(Context& ctx) {
  BodyArena arena;
  auto body = parse_body(ctx.request, kBatchFields, arena.storage());
  if (auto* error = std::get_if<Response>(&body)) return std::move(*error);
  const json::object& o = std::get<json::object>(body);
  FieldErrors top;
  const json::value* events = o.if_contains("events");
  if (!events)
    top.add("events", "This field is required.");
  else if (!events->is_array())
    top.add("events", "Expected a list of items but got type \"" + std::string(python_type_name(*events)) + "\".");
  else if (events->get_array().empty())
    top.add("events", "This list may not be empty.");
  else if (events->get_array().size() > kMaxBatch)
    top.add("events", "Ensure this field has no more than " + std::to_string(kMaxBatch) + " elements.");
  if (!top.empty()) return top.response();

  // Every item checked; errors as a list with one object per item, as the documented API nests them.
  std::vector<Incoming> items;
  json::array item_errors;
  bool any_error = false;
  for (const auto& v : events->get_array()) {
    FieldErrors errors;
    std::optional<Incoming> in;
    if (!v.is_object())
      errors.add("non_field_errors", "Invalid data. Expected a dictionary, but got " + std::string(python_type_name(v)) + ".");
    else
      in = validate(v.get_object(), errors);
    any_error |= !in.has_value();
    item_errors.push_back(errors.body());
    if (in) items.push_back(std::move(*in));
  }
  if (any_error) return json_response(http::status::bad_request, {{"events", item_errors}});

  std::vector<std::string> ids;  // the publisher ids, each once, in order
  for (const auto& in : items)
    if (in.id) ids.push_back(*in.id);
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  std::vector<std::string> keys;
  for (const auto& id : ids) keys.push_back(claim_key(ctx.integration_id, id));
  auto claimed = claim(std::move(keys));
  if (!claimed) return being_published();

  // Those published before, all looked up at once; `found` and `answered` are by position in `ids`.
  auto found = store_.find_events(ctx.integration_id, ids);
  constexpr std::size_t kNone = std::numeric_limits<std::size_t>::max();
  std::vector<std::size_t> answered(ids.size(), kNone);  // the index of an id's answer in `answers`

  storage::Batch batch = store_.batch(ctx.request.body().size() + items.size() * kEventRecordOverhead);
  storage::CreatedDeliveries created;
  // The answer is built in the request's arena: a batch's hundreds of small objects are then
  // neither allocated one by one nor freed one by one.
  json::array answers(arena.storage());
  answers.reserve(items.size());
  std::uint64_t fresh = 0;
  for (auto& in : items) {
    if (in.id) {
      auto at = static_cast<std::size_t>(std::lower_bound(ids.begin(), ids.end(), *in.id) - ids.begin());
      if (answered[at] != kNone) {  // repeated within the batch: folded into the first
        json::value first(answers[answered[at]], answers.storage());
        answers.push_back(std::move(first));
        continue;
      }
      answered[at] = answers.size();
      if (found[at]) {
        answers.push_back(summary(*found[at], answers.storage()));
        continue;
      }
    }
    ++fresh;
    answers.push_back(summary(*fan_out(ctx.integration_id, std::move(in), batch, created), answers.storage()));
  }
  put_created(batch, created);
  if (!batch.empty()) ctx.deferred.emplace(std::move(batch));
  ctx.held_until_answered = std::move(claimed);
  ctx.on_commit = [this, fresh, created = std::move(created)](bool durable) mutable {
    if (durable) accepted_ += fresh;
    notify(std::move(created), durable);
  };
  if (!ctx.deferred) ctx.on_commit(true);  // nothing new: no commit will call it
  json::value answer(json::object_kind, arena.storage());
  answer.get_object().emplace("events", std::move(answers));
  return json_response(http::status::accepted, answer);
}

json::object EventsApi::delivery_json(const storage::Delivery& d, DeliveryView view) const {
  bool with_attempts = view == DeliveryView::WithAttempts;
  json::object o;
  o["id"] = d.id;
  if (with_attempts) {
    auto event = store_.find_event_by_seq(d.integration_id, d.event_seq);
    o["event_id"] = event ? json::value(event->id) : json::value(nullptr);
    o["event_type"] = event ? json::value(event->type) : json::value(nullptr);
  }
  auto webhook = store_.find_webhook_by_seq(d.integration_id, d.webhook_seq);
  o["webhook_id"] = webhook ? json::value(webhook->id) : json::value(nullptr);
  o["state"] = std::string(storage::to_string(d.state));
  if (with_attempts) {
    json::array attempts;
    for (const auto& a : store_.list_attempts(d))
      attempts.push_back(json::object{{"number", a.number},
                                      {"started_at", iso8601(a.started_at_ms)},
                                      {"duration_ms", a.duration_ms},
                                      {"status", a.status == 0 ? json::value(nullptr) : json::value(a.status)},
                                      {"error", a.error.empty() ? json::value(nullptr) : json::value(a.error)},
                                      {"response", a.response}});
    o["attempts"] = std::move(attempts);
  } else {
    o["attempts"] = d.attempts;
  }
  o["next_attempt_at"] = storage::is_active(d.state) ? json::value(iso8601(d.next_attempt_ms)) : json::value(nullptr);
  o["created_at"] = iso8601(d.created_at_ms);
  o["updated_at"] = iso8601(d.updated_at_ms);
  return o;
}

json::object EventsApi::event_json(const storage::Event& e) const {
  json::object o = summary(e);
  boost::system::error_code ec;
  o["data"] = json::parse(e.data_json, ec);
  json::array deliveries;
  for (const auto& d : store_.deliveries_of_event(e.integration_id, e.seq))
    deliveries.push_back(delivery_json(d, DeliveryView::InEvent));
  o["deliveries"] = std::move(deliveries);
  return o;
}

Response EventsApi::list(Context& ctx) const {
  return paginate(
      ctx, [&](std::uint64_t offset, std::uint64_t limit) { return store_.list_events(ctx.integration_id, offset, limit); },
      [this](const storage::Event& e) { return event_json(e); });
}

Response EventsApi::retrieve(Context& ctx) const {
  auto e = store_.find_event(ctx.integration_id, ctx.params.at(0));
  if (!e) return error_response(ApiError::NotFound);
  return json_response(http::status::ok, event_json(*e));
}

Response EventsApi::list_deliveries(Context& ctx) const {
  auto webhook = store_.find_webhook(ctx.integration_id, ctx.params.at(0));
  if (!webhook) return error_response(ApiError::NotFound);
  return paginate(
      ctx,
      [&](std::uint64_t offset, std::uint64_t limit) {
        return store_.list_deliveries_of_webhook(ctx.integration_id, webhook->seq, offset, limit);
      },
      [this](const storage::Delivery& d) { return delivery_json(d, DeliveryView::WithAttempts); });
}

Response EventsApi::retry_delivery(Context& ctx) const {
  const std::string& id = ctx.params.at(0);
  auto d = store_.find_delivery(id);
  if (!d || d->integration_id != ctx.integration_id) return error_response(ApiError::NotFound);
  RetryAnswer answer = hooks_.retry_delivery ? hooks_.retry_delivery(ctx.integration_id, id) : RetryAnswer::Unavailable;
  switch (answer) {
    case RetryAnswer::Scheduled: return json_response(http::status::accepted, delivery_json(*store_.find_delivery(id), DeliveryView::WithAttempts));
    case RetryAnswer::NotFound: return error_response(ApiError::NotFound);
    case RetryAnswer::NotRetryable:
      return json_response(http::status::conflict,
                           {{"detail", "Only failed or pending deliveries can be retried; this one is " +
                                           std::string(storage::to_string(d->state)) + "."}});
    case RetryAnswer::Unavailable: break;
  }
  return error_response(ApiError::Unavailable);
}

}  // namespace hookd::api
