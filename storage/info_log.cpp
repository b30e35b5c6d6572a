#include "storage/info_log.hpp"

#include <spdlog/spdlog.h>

#include <cstdarg>
#include <cstdio>
#include <string>
#include <string_view>

namespace hookd::storage {
namespace {

spdlog::level::level_enum to_spdlog(rocksdb::InfoLogLevel level) {
  switch (level) {
    case rocksdb::InfoLogLevel::DEBUG_LEVEL: return spdlog::level::trace;
    case rocksdb::InfoLogLevel::WARN_LEVEL: return spdlog::level::warn;
    case rocksdb::InfoLogLevel::ERROR_LEVEL: return spdlog::level::err;
    case rocksdb::InfoLogLevel::FATAL_LEVEL: return spdlog::level::critical;
    default: return spdlog::level::debug;  // INFO and HEADER
  }
}

// Some of RocksDB's lines end in a newline of their own.
std::string_view trimmed(std::string_view line) {
  while (!line.empty() && line.back() == '\n') line.remove_suffix(1);
  return line;
}

class SpdlogInfoLog final : public rocksdb::Logger {
 public:
  // RocksDB calls the leveled Logv; the other two are its fallbacks.
  void Logv(const char* format, va_list ap) override { Logv(rocksdb::InfoLogLevel::INFO_LEVEL, format, ap); }
  void LogHeader(const char* format, va_list ap) override { Logv(rocksdb::InfoLogLevel::HEADER_LEVEL, format, ap); }

  void Logv(rocksdb::InfoLogLevel level, const char* format, va_list ap) override {
    spdlog::level::level_enum to = to_spdlog(level);
    if (level < GetInfoLogLevel() || !spdlog::should_log(to)) return;
    char line[512];
    va_list again;
    va_copy(again, ap);
    int length = std::vsnprintf(line, sizeof line, format, ap);
    if (length >= 0 && static_cast<std::size_t>(length) < sizeof line) {
      spdlog::log(to, "rocksdb: {}", trimmed({line, static_cast<std::size_t>(length)}));
    } else if (length > 0) {  // a long line (the statistics): formatted again, in full
      std::string whole(length + 1, '\0');
      std::vsnprintf(whole.data(), whole.size(), format, again);
      whole.pop_back();
      spdlog::log(to, "rocksdb: {}", trimmed(whole));
    }
    va_end(again);
  }
};

}  // namespace

std::shared_ptr<rocksdb::Logger> new_info_log() { return std::make_shared<SpdlogInfoLog>(); }

}  // namespace hookd::storage
