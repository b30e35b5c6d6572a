// Small formatting helpers shared by handlers.
#pragma once

#include <cstdint>
#include <string>

namespace hookd::api {

// "2026-11-27T03:30:35.123Z" for milliseconds since the Unix epoch.
std::string iso8601(std::int64_t ms);

}  // namespace hookd::api
