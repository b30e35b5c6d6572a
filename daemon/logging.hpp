// Logging through spdlog: plain lines or JSON lines (one object per line) on stderr.
#pragma once

#include <string>

namespace hookd {

// Sets the default logger's level ("info", ...) and format ("plain" or "json").
void setup_logging(const std::string& level, const std::string& format);

}  // namespace hookd
