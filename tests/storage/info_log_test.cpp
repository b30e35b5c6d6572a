// RocksDB's info log goes to hookd's log (storage/info_log.hpp), not to a file of its own, and a
// write that RocksDB failed is the store's last until it is reopened (Store::write).
#include <gtest/gtest.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <filesystem>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "storage/store.hpp"
#include "tests/support/captured_log.hpp"
#include "tests/support/small_disk.hpp"
#include "tests/support/temp_dir.hpp"

namespace hookd::storage {
namespace {

namespace fs = std::filesystem;

using test::CapturedLog;

// Some of RocksDB's warnings and errors end in a newline of their own.
bool has_empty_line_after_a_problem(const std::string& text) {
  std::istringstream lines(text);
  bool after_problem = false;
  for (std::string line; std::getline(lines, line);) {
    if (after_problem && line.empty()) return true;
    after_problem = line.starts_with("warning rocksdb: ") || line.starts_with("error rocksdb: ");
  }
  return false;
}

Event event(Store& store, int n) {
  return {"i", store.next_seq(Store::Sequence::Event), "evt-" + std::to_string(n), "Payout.created",
          R"({"pad":")" + std::string(4000, 'x') + "\"}", 1};
}

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

TEST(InfoLog, AFullDiskIsLoggedWithoutAborting) {
  // RocksDB's own file logger, on this disk, aborted the process: a failed write makes RocksDB log
  // more than one line, and its logger asserts on the line after one it failed to write.
  test::SmallDisk disk("8m");
  fs::path data = fs::path(disk.path()) / "data";
  Store::Options options{data.string()};
  options.min_free_bytes = 0;  // let RocksDB itself meet the full disk
  CapturedLog log(spdlog::level::info);
  Store store(options);
  disk.fill(0);
  int failed = 0;
  for (int n = 0; n < 20; ++n) {
    Batch batch = store.batch();
    batch.put_event(event(store, n));
    if (!store.write(batch).is_ok()) ++failed;
  }
  EXPECT_EQ(failed, 20);
  EXPECT_NE(log.text().find("warning rocksdb: "), std::string::npos) << log.text();  // RocksDB's account, at its level
  EXPECT_NE(log.text().find("No space left on device"), std::string::npos) << log.text();
  EXPECT_FALSE(has_empty_line_after_a_problem(log.text())) << log.text();  // RocksDB's line ends trimmed
}

TEST(InfoLog, AStoreOnAFullDiskFailsItsWritesAndRecoversOnReopen) {
  test::SmallDisk disk("200m");
  fs::path data = fs::path(disk.path()) / "data";
  Store::Options options{data.string()};
  options.min_free_bytes = 0;  // let RocksDB itself meet the full disk
  std::vector<std::string> reported;
  options.on_failed_write = [&](const std::string& why) { reported.push_back(why); };
  const int before = 10;  // events written before the disk fills
  {
    Store store(options);
    for (int n = 0; n < before; ++n) {
      Batch batch = store.batch();
      batch.put_event(event(store, n));
      ASSERT_TRUE(store.write(batch).is_ok());
    }
  }
  int acknowledged = before;
  {
    // Reopened: its recovery flushed the memtables, which makes the case below one where
    // RocksDB's own recovery keeps writing to the log whose write failed.
    CapturedLog log(spdlog::level::debug);
    Store store(options);
    disk.fill(0);
    int failed = 0;
    for (int n = before; n < 10'000 && failed < 20; ++n) {
      Batch batch = store.batch();
      batch.put_event(event(store, n));
      if (store.write(batch).is_ok())
        acknowledged = n + 1;
      else
        ++failed;
    }
    EXPECT_EQ(failed, 20);
    ASSERT_EQ(reported.size(), 1u);
    EXPECT_NE(reported[0].find("No space left on device"), std::string::npos) << reported[0];

    // With 64 MiB free again RocksDB resumes by itself (its SstFileManager polls every 5 s), but
    // its log writer keeps the failed write's error: its next append would abort the process.
    disk.free_filler();
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
    while (log.text().find("Successfully resumed DB") == std::string::npos && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    ASSERT_NE(log.text().find("Successfully resumed DB"), std::string::npos) << log.text().substr(log.text().size() > 6000 ? log.text().size() - 6000 : 0);
    Batch batch = store.batch();
    batch.put_event({"i", store.next_seq(Store::Sequence::Event), "evt-refused", "Payout.created", "{}", 1});
    auto refused = store.write(batch);
    EXPECT_FALSE(refused.is_ok());
    EXPECT_NE(refused.message().find("restart"), std::string::npos) << refused.message();
    EXPECT_FALSE(store.sync().is_ok());
    EXPECT_EQ(reported.size(), 1u);
  }
  Store reopened(options);
  for (int n = 0; n < acknowledged; ++n) EXPECT_TRUE(reopened.find_event("i", "evt-" + std::to_string(n))) << n;
  EXPECT_FALSE(reopened.find_event("i", "evt-refused"));
  Batch batch = reopened.batch();
  batch.put_event({"i", reopened.next_seq(Store::Sequence::Event), "evt-after", "Payout.created", "{}", 1});
  EXPECT_TRUE(reopened.write(batch).is_ok());
}

}  // namespace
}  // namespace hookd::storage
