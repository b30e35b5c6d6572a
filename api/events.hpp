// Event ingress and inspection (SPEC §4), and the deliveries API (SPEC §5).
//
// Publishing fans an event out at accept time: one delivery per webhook of the integration that
// subscribes to its type at that moment. The event and its deliveries go into one batch that the
// service group-commits; only then is the publisher answered 202 and the engine told. A publisher's
// event id is idempotent: publishing it again answers 200 with the first event and fans out nothing.
#pragma once

#include <boost/json.hpp>
#include <boost/unordered/unordered_flat_set.hpp>
#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "api/engine_hooks.hpp"
#include "api/errors.hpp"
#include "api/router.hpp"
#include "storage/store.hpp"

namespace hookd::api {

class EventsApi {
 public:
  static constexpr std::size_t kMaxBatch = 1000;

  EventsApi(storage::Store& store, std::vector<std::string> event_types, std::function<std::int64_t()> now_ms,
            const EngineHooks& hooks);

  Response publish(Context& ctx);        // POST /v2/events/
  Response publish_batch(Context& ctx);  // POST /v2/events/batch/
  Response list(Context& ctx) const;     // GET /v2/events/
  Response retrieve(Context& ctx) const; // GET /v2/events/{id}/

  Response list_deliveries(Context& ctx) const;  // GET /v2/webhooks/{id}/deliveries/

  // Events made durable by this API since start (repeats of a published id not counted).
  std::uint64_t accepted() const { return accepted_; }
  Response retry_delivery(Context& ctx) const;   // POST /v2/deliveries/{id}/retry/

 private:
  struct Incoming {
    std::optional<std::string> id;
    std::string type;
    std::string data_json;
  };
  // One event object checked; nullopt with `errors` filled when it is not valid.
  std::optional<Incoming> validate(const boost::json::object& body, FieldErrors& errors) const;
  // Adds the event to `batch` and its deliveries to `created`; returns the event.
  std::shared_ptr<const storage::Event> fan_out(const std::string& integration_id, Incoming in, storage::Batch& batch,
                                                storage::CreatedDeliveries& created) const;
  // Adds the deliveries of a request's events to its batch: listed in one fresh entry when there
  // is an engine to hand them to (storage::NewDue).
  void put_created(storage::Batch& batch, storage::CreatedDeliveries& created) const;
  // Tells the engine about new deliveries, whether or not their commit is known to have worked.
  void notify(storage::CreatedDeliveries created, bool durable) const;
  // Publisher ids one request is publishing, released when the last reference goes: the request
  // holds it (Context::held_until_answered) until its answer is ready after the commit, or until it
  // ends without one (an error, a store failure), so that no id stays claimed.
  class Claim {
   public:
    // Adds `keys` to the API's claims; called with its mutex held.
    Claim(EventsApi& api, std::vector<std::string> keys);
    ~Claim();
    Claim(const Claim&) = delete;
    Claim& operator=(const Claim&) = delete;

   private:
    EventsApi& api_;
    std::vector<std::string> keys_;
  };
  // Claims publisher ids (integration '\0' id) for one request; null if another request is
  // publishing one of them.
  std::shared_ptr<Claim> claim(std::vector<std::string> keys);
  // The webhooks of an integration by the event type they subscribe to (their seqs, in creation
  // order), cached until a webhook changes: fan-out would otherwise read every webhook per event.
  using Subscriptions = std::unordered_map<std::string, std::vector<std::uint64_t>>;
  std::shared_ptr<const Subscriptions> subscriptions(const std::string& integration_id) const;
  boost::json::object event_json(const storage::Event& event) const;
  // A delivery as the API shows it: with its attempts listed, or (inside an event) counted.
  enum class DeliveryView { WithAttempts, InEvent };
  boost::json::object delivery_json(const storage::Delivery& d, DeliveryView view) const;

  storage::Store& store_;
  std::vector<std::string> event_types_;
  std::function<std::int64_t()> now_ms_;
  const EngineHooks& hooks_;
  std::mutex claims_mutex_;
  // integration '\0' event id, while being published: views of the keys their Claim owns. A batch
  // request claims all of its ids, so thousands are held at once: hashed, not ordered (a tree's
  // compares walk the shared integration prefix of every key on the way down).
  boost::unordered_flat_set<std::string_view, std::hash<std::string_view>> claims_;
  std::atomic<std::uint64_t> accepted_{0};
  struct CachedSubscriptions {
    std::uint64_t version = 0;
    std::shared_ptr<const Subscriptions> by_type;
  };
  mutable std::mutex subscriptions_mutex_;
  mutable std::unordered_map<std::string, CachedSubscriptions> subscriptions_;
};

}  // namespace hookd::api
