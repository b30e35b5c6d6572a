// RocksDB's info log goes to hookd's log (storage/info_log.hpp), not to a file of its own.
#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <filesystem>
#include <sstream>
#include <string>

#include "storage/store.hpp"
#include "tests/support/temp_dir.hpp"

namespace hookd::storage {
namespace {

namespace fs = std::filesystem;

// spdlog's default logger replaced, while this lives, by one that keeps lines as "level message".
class CapturedLog {
 public:
  explicit CapturedLog(spdlog::level::level_enum level) : previous_(spdlog::default_logger()) {
    auto logger = std::make_shared<spdlog::logger>("captured", std::make_shared<spdlog::sinks::ostream_sink_mt>(lines_));
    logger->set_pattern("%l %v");
    logger->set_level(level);
    spdlog::set_default_logger(logger);
  }
  ~CapturedLog() { spdlog::set_default_logger(previous_); }
  std::string text() const { return lines_.str(); }

 private:
  std::shared_ptr<spdlog::logger> previous_;
  std::ostringstream lines_;
};

TEST(InfoLog, RocksDbsLinesGoToHookdsLogAtDebugAndNoLogFileIsWritten) {
  test::TempDir dir;
  {
    CapturedLog log(spdlog::level::debug);
    Store store({dir.str()});
    EXPECT_NE(log.text().find("debug rocksdb: RocksDB version: "), std::string::npos) << log.text();
  }
  {
    CapturedLog log(spdlog::level::info);  // hookd's default level: none of RocksDB's info lines
    Store store({dir.str()});
    EXPECT_EQ(log.text().find("rocksdb: "), std::string::npos) << log.text();
  }
  for (const auto& entry : fs::directory_iterator(dir.path()))
    EXPECT_NE(entry.path().filename().string().substr(0, 3), "LOG") << entry.path();
}

}  // namespace
}  // namespace hookd::storage
