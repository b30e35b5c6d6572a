// What the libFuzzer targets share: a real ApiService over a real RocksDB store in a fresh
// directory (on /dev/shm when there is one, so that fsync costs nothing), with an integration, a
// key with both scopes and one webhook made at start. Each input is answered in full before the
// next, on the calling thread's io_context.
//
// A target reports a bug by aborting: an exception escaping, an answer of 500 (which the API gives
// only when a handler threw something it did not expect), or an answer in JSON that is not JSON.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "api/http_types.hpp"
#include "api/service.hpp"
#include "storage/group_commit.hpp"
#include "storage/store.hpp"
#include "tests/support/temp_dir.hpp"

namespace hookd::fuzz {

using api::Request;
using api::Response;

class FuzzApi {
 public:
  // The one instance, made on first use and kept until the process exits.
  static FuzzApi& get();

  // Answers `request` as a listener would (ApiService::handle), and checks the answer is not 500.
  Response send(Request request);

  // A request to `target` with the key's headers, and `body` with `content_type` if not empty.
  Request authorized(http::verb method, std::string_view target, std::string_view content_type = {},
                     std::string body = {}) const;
  // Puts the key's Authorization and Integration-ID headers on `request`.
  void authorize(Request& request) const;

  const std::string& webhook_id() const { return webhook_id_; }

 private:
  FuzzApi();
  ~FuzzApi();

  test::TempDir dir_;
  std::unique_ptr<storage::Store> store_;
  std::unique_ptr<storage::GroupCommitter> committer_;
  net::thread_pool blocking_{1};
  std::unique_ptr<api::ApiService> api_;
  std::string integration_;
  std::string key_;
  std::string webhook_id_;
};

// `id` percent-encoded as one path segment: ids may hold any character, '/' and '?' included.
std::string path_segment(std::string_view id);

// Aborts with `what` on stderr: how a target says it found a bug.
[[noreturn]] void fail(std::string_view what);

}  // namespace hookd::fuzz
