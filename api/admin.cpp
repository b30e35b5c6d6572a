#include "api/admin.hpp"

#include <algorithm>

#include "api/auth.hpp"
#include "signing/crypto.hpp"

namespace hookd::api {
namespace {

namespace json = boost::json;

bool valid_integration_id(std::string_view id) {
  return !id.empty() && id.size() <= 64 && std::all_of(id.begin(), id.end(), [](unsigned char c) {
           return std::isalnum(c) || c == '.' || c == '_' || c == '-';
         });
}

json::value integration_json(const storage::Integration& i) { return {{"id", i.id}, {"name", i.name}}; }

json::array scope_names(std::uint8_t scopes) {
  json::array out;
  if (scopes & storage::kScopeManage) out.emplace_back("manage");
  if (scopes & storage::kScopePublish) out.emplace_back("publish");
  return out;
}

// The key as listed; with `secret` only in the answer to its creation.
json::object key_json(const storage::ApiKey& k, std::optional<std::string_view> secret = std::nullopt) {
  json::object o;
  o["id"] = k.id;
  if (secret) o["key"] = *secret;
  o["integrations"] = json::array(k.integrations.begin(), k.integrations.end());
  o["scopes"] = scope_names(k.scopes);
  return o;
}

}  // namespace

Admin::Admin(storage::Store& store, std::function<std::int64_t()> now_ms) : store_(store), now_ms_(std::move(now_ms)) {}

Admin::Result Admin::commit(storage::Batch& batch, json::value answer) {
  storage::WriteStatus status = store_.write(batch);
  if (!status.is_ok()) return Error{Error::Unavailable, "the store refused the write: " + status.message()};
  return answer;
}

Admin::Result Admin::create_integration(const std::string& name, const std::optional<std::string>& id) {
  std::lock_guard lock(mutex_);
  if (name.empty() || name.size() > 255) return Error{Error::Invalid, "name must be 1 to 255 characters"};
  storage::Integration integration{id ? *id : signing::uuid4(), name, now_ms_()};
  if (!valid_integration_id(integration.id))
    return Error{Error::Invalid, "integration id must be 1 to 64 characters of A-Z a-z 0-9 . _ -"};
  if (store_.find_integration(integration.id))
    return Error{Error::Invalid, "integration " + integration.id + " already exists"};
  storage::Batch batch = store_.batch();
  batch.put_integration(integration);
  return commit(batch, integration_json(integration));
}

json::value Admin::list_integrations() const {
  json::array out;
  for (const auto& i : store_.list_integrations()) out.push_back(integration_json(i));
  return out;
}

Admin::Result Admin::create_key(const std::vector<std::string>& integrations, const std::vector<std::string>& scopes) {
  std::lock_guard lock(mutex_);
  if (integrations.empty()) return Error{Error::Invalid, "a key needs at least one integration"};
  storage::ApiKey key;
  for (const auto& id : integrations) {
    if (!store_.find_integration(id)) return Error{Error::Invalid, "no integration " + id};
    if (std::find(key.integrations.begin(), key.integrations.end(), id) == key.integrations.end())
      key.integrations.push_back(id);
  }
  for (const auto& s : scopes) {
    if (s == "manage")
      key.scopes |= storage::kScopeManage;
    else if (s == "publish")
      key.scopes |= storage::kScopePublish;
    else
      return Error{Error::Invalid, "unknown scope " + s + " (manage, publish)"};
  }
  if (key.scopes == 0) key.scopes = storage::kScopeManage | storage::kScopePublish;

  std::string secret = signing::hex(signing::random_bytes(20));  // 160 bits, shaped like the seed's keys
  key.id = "key_" + signing::hex(signing::random_bytes(8));
  key.key_hash = hash_api_key(secret);
  key.created_at_ms = now_ms_();
  storage::Batch batch = store_.batch();
  batch.put_api_key(key);
  return commit(batch, key_json(key, secret));
}

json::value Admin::list_keys() const {
  json::array out;
  for (const auto& k : store_.list_api_keys()) out.push_back(key_json(k));
  return out;
}

Admin::Result Admin::revoke_key(const std::string& id) {
  std::lock_guard lock(mutex_);
  auto key = store_.find_api_key(id);
  if (!key) return Error{Error::NotFound, "no key " + id};
  storage::Batch batch = store_.batch();
  batch.delete_api_key(*key);
  return commit(batch, json::object{{"id", id}, {"revoked", true}});
}

Admin::Result Admin::backup(const std::string& to) {
  if (to.empty() || to.front() != '/') return Error{Error::Invalid, "the backup directory must be an absolute path"};
  storage::WriteStatus status = store_.checkpoint(to);
  if (!status.is_ok()) return Error{Error::Invalid, "backup to " + to + " failed: " + status.message()};
  return json::object{{"backup", to}};
}

std::optional<json::value> Admin::bootstrap() {
  if (!store_.list_integrations().empty()) return std::nullopt;
  auto integration = create_integration("default", std::nullopt);
  if (auto* e = std::get_if<Error>(&integration)) throw std::runtime_error(e->message);
  std::string id(std::get<json::value>(integration).at("id").as_string());
  auto key = create_key({id}, {});
  if (auto* e = std::get_if<Error>(&key)) throw std::runtime_error(e->message);
  return json::object{{"integration", std::get<json::value>(integration)}, {"key", std::get<json::value>(key)}};
}

}  // namespace hookd::api
