#include "daemon/cli.hpp"

#include <spdlog/spdlog.h>

#include <filesystem>
#include <iostream>
#include <map>
#include <optional>
#include <string_view>

#include "api/admin.hpp"
#include "daemon/app.hpp"
#include "daemon/logging.hpp"
#include "daemon/settings.hpp"

namespace hookd {
namespace {

namespace json = boost::json;

constexpr const char* kUsage = R"(usage:
  hookd serve [--config FILE] [--listen HOST:PORT] [--data-dir DIR] [--set section.key=value ...]
  hookd integration create [--data-dir DIR] --name NAME [--id ID]
  hookd integration list [--data-dir DIR]
  hookd key create [--data-dir DIR] --integration ID [--integration ID ...] [--scope manage|publish ...]
  hookd key list [--data-dir DIR]
  hookd key revoke [--data-dir DIR] KEY_ID
  hookd backup [--data-dir DIR] --to NEW_DIR
  hookd --version
Admin commands also take --config FILE; settings come from the file, HOOKD_* variables and flags.
)";

struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Flags as name -> values (repeatable), plus positional arguments.
struct Parsed {
  std::map<std::string, std::vector<std::string>> flags;
  std::vector<std::string> positional;

  std::optional<std::string> one(const std::string& name) const {
    auto it = flags.find(name);
    if (it == flags.end()) return std::nullopt;
    if (it->second.size() > 1) throw UsageError("--" + name + " given more than once");
    return it->second.front();
  }
  std::vector<std::string> all(const std::string& name) const {
    auto it = flags.find(name);
    return it == flags.end() ? std::vector<std::string>{} : it->second;
  }
};

Parsed parse(const std::vector<std::string>& args, std::size_t first, const std::vector<std::string>& known) {
  Parsed p;
  for (std::size_t i = first; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a.rfind("--", 0) != 0) {
      p.positional.push_back(a);
      continue;
    }
    std::string name = a.substr(2), value;
    if (auto eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
    } else {
      if (i + 1 >= args.size()) throw UsageError("--" + name + " needs a value");
      value = args[++i];
    }
    if (std::find(known.begin(), known.end(), name) == known.end()) throw UsageError("unknown flag --" + name);
    p.flags[name].push_back(value);
  }
  return p;
}

Settings settings_from(const Parsed& p) {
  SettingsSources sources;
  sources.config_file = p.one("config");
  sources.environment = hookd_environment();
  for (const auto& kv : p.all("set")) {
    auto eq = kv.find('=');
    if (eq == std::string::npos) throw UsageError("--set takes section.key=value, got " + kv);
    sources.overrides.emplace_back(kv.substr(0, eq), kv.substr(eq + 1));
  }
  if (auto v = p.one("listen")) sources.overrides.emplace_back("api.listen", *v);
  if (auto v = p.one("data-dir")) sources.overrides.emplace_back("data_dir", *v);
  return load_settings(sources);
}

int serve(const Parsed& p, std::ostream& out) {
  Settings settings = settings_from(p);
  setup_logging(settings.log.level, settings.log.format);
  App app(settings);
  app.start(out);
  bool store_failed = app.run();
  return store_failed ? 1 : 0;  // 1: for systemd (Restart=on-failure) or the container to restart it
}

// An admin request: over the running daemon's socket when it answers, else on the store itself.
struct AdminCall {
  http::verb method;
  std::string path;
  json::value body;
  std::function<api::Admin::Result(api::Admin&)> direct;
};

// The daemon's answer, or nullopt when no daemon listens on the socket.
std::optional<std::pair<int, std::string>> over_socket(const std::string& socket_path, const AdminCall& call) {
  net::io_context io;
  net::local::stream_protocol::socket socket(io);
  boost::system::error_code ec;
  socket.connect(net::local::stream_protocol::endpoint(socket_path), ec);
  if (ec) return std::nullopt;
  http::request<http::string_body> req{call.method, call.path, 11};
  req.set(http::field::host, "hookd");
  if (!call.body.is_null()) {
    req.set(http::field::content_type, "application/json");
    req.body() = json::serialize(call.body);
  }
  req.prepare_payload();
  http::write(socket, req);
  beast::flat_buffer buffer;
  http::response<http::string_body> res;
  http::read(socket, buffer, res);
  return std::make_pair(static_cast<int>(res.result_int()), res.body());
}

int admin(const Parsed& p, const AdminCall& call, std::ostream& out, std::ostream& err) {
  Settings settings = settings_from(p);
  std::string socket_path = (std::filesystem::path(settings.data_dir) / "hookd.sock").string();
  if (auto answer = over_socket(socket_path, call)) {
    auto [status, body] = *answer;
    if (status >= 200 && status < 300) {
      out << body << "\n";
      return 0;
    }
    boost::system::error_code ec;
    json::value v = json::parse(body, ec);
    err << "hookd: " << (!ec && v.is_object() && v.as_object().contains("detail") ? std::string(v.at("detail").as_string()) : body)
        << "\n";
    return 1;
  }
  if (!std::filesystem::exists(settings.data_dir)) {
    err << "hookd: no data directory " << settings.data_dir << " (start the daemon once, or pass --data-dir)\n";
    return 1;
  }
  storage::Store store(storage::Store::Options{settings.data_dir});
  api::Admin admin(store, system_now_ms);
  auto result = call.direct(admin);
  if (auto* e = std::get_if<api::Admin::Error>(&result)) {
    err << "hookd: " << e->message << "\n";
    return 1;
  }
  out << json::serialize(std::get<json::value>(result)) << "\n";
  return 0;
}

int dispatch(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  if (args.empty()) throw UsageError("a command is needed");
  const std::string& command = args[0];
  if (command == "--version" || command == "version") {
    out << "hookd " << HOOKD_VERSION << "\n";
    return 0;
  }
  if (command == "--help" || command == "help" || command == "-h") {
    out << kUsage;
    return 0;
  }
  const std::vector<std::string> common = {"data-dir", "config", "set"};
  auto with = [&](std::vector<std::string> extra) {
    extra.insert(extra.end(), common.begin(), common.end());
    return extra;
  };
  if (command == "serve") return serve(parse(args, 1, with({"listen"})), out);

  if (command == "backup") {
    Parsed p = parse(args, 1, with({"to"}));
    auto to = p.one("to");
    if (!to) throw UsageError("backup needs --to NEW_DIR");
    std::string target = std::filesystem::absolute(*to).lexically_normal().string();  // the daemon's cwd is not ours
    return admin(p, {http::verb::post, "/admin/backup", json::object{{"to", target}},
                     [&](api::Admin& a) { return a.backup(target); }}, out, err);
  }
  if (args.size() < 2) throw UsageError(command + " needs a subcommand");
  const std::string& sub = args[1];
  if (command == "integration" && sub == "create") {
    Parsed p = parse(args, 2, with({"name", "id"}));
    auto name = p.one("name");
    if (!name) throw UsageError("integration create needs --name");
    auto id = p.one("id");
    json::object body{{"name", *name}};
    if (id) body["id"] = *id;
    return admin(p, {http::verb::post, "/admin/integrations", body,
                     [&](api::Admin& a) { return a.create_integration(*name, id); }}, out, err);
  }
  if (command == "integration" && sub == "list") {
    Parsed p = parse(args, 2, with({}));
    return admin(p, {http::verb::get, "/admin/integrations", nullptr,
                     [](api::Admin& a) { return api::Admin::Result(a.list_integrations()); }}, out, err);
  }
  if (command == "key" && sub == "create") {
    Parsed p = parse(args, 2, with({"integration", "scope"}));
    auto integrations = p.all("integration");
    auto scopes = p.all("scope");
    if (integrations.empty()) throw UsageError("key create needs --integration");
    json::object body{{"integrations", json::array(integrations.begin(), integrations.end())},
                      {"scopes", json::array(scopes.begin(), scopes.end())}};
    return admin(p, {http::verb::post, "/admin/keys", body,
                     [&](api::Admin& a) { return a.create_key(integrations, scopes); }}, out, err);
  }
  if (command == "key" && sub == "list") {
    Parsed p = parse(args, 2, with({}));
    return admin(p, {http::verb::get, "/admin/keys", nullptr,
                     [](api::Admin& a) { return api::Admin::Result(a.list_keys()); }}, out, err);
  }
  if (command == "key" && sub == "revoke") {
    Parsed p = parse(args, 2, with({}));
    if (p.positional.size() != 1) throw UsageError("key revoke takes one KEY_ID");
    std::string id = p.positional[0];
    return admin(p, {http::verb::delete_, "/admin/keys/" + id, nullptr,
                     [&](api::Admin& a) { return a.revoke_key(id); }}, out, err);
  }
  throw UsageError("unknown command: " + command + " " + sub);
}

}  // namespace

int run_cli(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  try {
    return dispatch(args, out, err);
  } catch (const UsageError& e) {
    err << "hookd: " << e.what() << "\n" << kUsage;
    return 2;
  } catch (const SettingsError& e) {
    err << "hookd: " << e.what() << "\n";
    return 2;
  } catch (const std::exception& e) {
    err << "hookd: " << e.what() << "\n";
    if (std::string_view(e.what()).starts_with("io_uring"))
      err << "hookd: this build runs its event loops on io_uring, which the kernel or a seccomp filter refused:\n"
             "  allow it (sysctl kernel.io_uring_disabled=0; in a container, a seccomp profile that permits\n"
             "  io_uring_setup, io_uring_enter and io_uring_register) or build with -DHOOKD_IO_URING=OFF\n";
    return 1;
  }
}

}  // namespace hookd
