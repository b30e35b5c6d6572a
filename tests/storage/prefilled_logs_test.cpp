// The store's write-ahead logs are zero-filled ahead of their writes (storage/prefilled_logs.hpp).
// A copy of the data directory taken while the store is open is what a kill -9 leaves on disk:
// these tests recover such copies.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "storage/store.hpp"
#include "tests/support/small_disk.hpp"
#include "tests/support/temp_dir.hpp"

namespace hookd::storage {
namespace {

namespace fs = std::filesystem;

// storage/prefilled_logs.cpp: the zeros are filled in steps from 64 KiB to 1 MiB, as long as the
// log already is, and reach one to two steps ahead.
constexpr std::uintmax_t kMinStep = 64u << 10;
constexpr std::uintmax_t kMaxStep = 1u << 20;

std::string event_id(int n) { return "evt-" + std::to_string(n); }
std::string event_data(int n) { return R"({"n":)" + std::to_string(n) + R"(,"pad":")" + std::string(4000, 'x') + "\"}"; }

// `batches` synced writes of `per_batch` 4 KiB events each (32 KiB a write by default), from
// batch `first` on.
void write_events(Store& store, int batches, int first = 0, int per_batch = 8) {
  for (int b = first; b < first + batches; ++b) {
    Batch batch = store.batch();
    for (int n = b * per_batch; n < (b + 1) * per_batch; ++n)
      batch.put_event({"i", store.next_seq(Store::Sequence::Event), event_id(n), "Payout.created", event_data(n), 1});
    ASSERT_TRUE(store.write(batch).is_ok());
  }
}

std::vector<fs::path> write_ahead_logs(const fs::path& dir) {
  std::vector<fs::path> logs;
  for (const auto& entry : fs::directory_iterator(dir))
    if (entry.path().extension() == ".log") logs.push_back(entry.path());
  std::sort(logs.begin(), logs.end());
  return logs;
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

// The offset just past the file's last non-zero byte.
std::uintmax_t end_of_data(const std::string& bytes) {
  auto last = bytes.find_last_not_of('\0');
  return last == std::string::npos ? 0 : last + 1;
}

// Events 0 to count - 1, each with its data, and no others: what a recovered store must hold.
void expect_events(Store& store, int count) {
  for (int n = 0; n < count; ++n) {
    auto event = store.find_event("i", event_id(n));
    ASSERT_TRUE(event) << n;
    ASSERT_EQ(event->data_json, event_data(n));
  }
  EXPECT_EQ(store.list_events("i", 0, 1).total, static_cast<std::uint64_t>(count));
}

fs::path crash_image(const fs::path& data, const fs::path& into) {
  fs::path copy = into / "copy";
  fs::copy(data, copy, fs::copy_options::recursive);
  return copy;
}

TEST(PrefilledLogs, ACrashImageWithZerosAfterTheLastRecordRecoversEverySyncedWrite) {
  test::TempDir dir, crash;
  fs::path data = dir.path() / "data";
  const int batches = 100;  // 3.2 MiB of log: the zeros are extended beyond the first chunks
  Store store({data.string()});
  write_events(store, batches);

  // The live log is longer than what RocksDB wrote and ends in zeros, a mebibyte of them or more.
  auto logs = write_ahead_logs(data);
  ASSERT_EQ(logs.size(), 1u);
  std::string bytes = read_file(logs[0]);
  EXPECT_EQ(bytes.size() % kMinStep, 0u);
  EXPECT_GT(end_of_data(bytes), 3u * kMaxStep);
  EXPECT_GE(bytes.size(), end_of_data(bytes) + kMaxStep);

  fs::path copy = crash_image(data, crash.path());
  Store recovered({copy.string()});
  expect_events(recovered, batches * 8);
  // Written after recovery, in a log of its own, and read back.
  write_events(recovered, 1, batches);
  EXPECT_TRUE(recovered.find_event("i", event_id(batches * 8)));
  EXPECT_EQ(recovered.list_events("i", 0, 1).total, static_cast<std::uint64_t>((batches + 1) * 8));
}

// RocksDB starts a new log for every memtable it switches, several within milliseconds when a
// flush is due, and the first sync of each writes its zeros: a new log gets a few of them.
TEST(PrefilledLogs, ANewLogStartsWithFewZeros) {
  test::TempDir dir;
  fs::path data = dir.path() / "data";
  Store store({data.string()});
  write_events(store, 1);

  auto logs = write_ahead_logs(data);
  ASSERT_EQ(logs.size(), 1u);
  std::string bytes = read_file(logs[0]);
  EXPECT_GE(bytes.size(), end_of_data(bytes) + kMinStep);
  EXPECT_LE(bytes.size(), 2 * kMinStep);
}

// A write longer than the zeros ahead of it (a group of large batches) lands past them.
TEST(PrefilledLogs, WritesLongerThanTheZerosAheadRecover) {
  test::TempDir dir, crash;
  fs::path data = dir.path() / "data";
  const int batches = 3, per_batch = 400;  // 1.6 MB a write
  Store store({data.string()});
  write_events(store, batches, 0, per_batch);

  auto logs = write_ahead_logs(data);
  ASSERT_EQ(logs.size(), 1u);
  std::string bytes = read_file(logs[0]);
  EXPECT_GT(end_of_data(bytes), 4u * kMaxStep);
  EXPECT_GE(bytes.size(), end_of_data(bytes) + kMaxStep);

  Store recovered({crash_image(data, crash.path()).string()});
  expect_events(recovered, batches * per_batch);
}

TEST(PrefilledLogs, AWriteTornByACrashEndsTheLogWhereItTore) {
  test::TempDir dir, crash;
  fs::path data = dir.path() / "data";
  Store store({data.string()});
  write_events(store, 3);

  // The last write's last bytes never reached the disk: zeros there, as after them.
  fs::path copy = crash_image(data, crash.path());
  auto logs = write_ahead_logs(copy);
  ASSERT_EQ(logs.size(), 1u);
  std::string bytes = read_file(logs[0]);
  std::uintmax_t end = end_of_data(bytes);
  ASSERT_GT(bytes.size(), end);  // zeros follow
  std::fill(bytes.begin() + static_cast<std::ptrdiff_t>(end - 100), bytes.begin() + static_cast<std::ptrdiff_t>(end), '\0');
  std::ofstream(logs[0], std::ios::binary | std::ios::trunc).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));

  Store recovered({copy.string()});
  for (int n = 0; n < 16; ++n) EXPECT_TRUE(recovered.find_event("i", event_id(n))) << n;
  for (int n = 16; n < 24; ++n) EXPECT_FALSE(recovered.find_event("i", event_id(n))) << n;
  EXPECT_EQ(recovered.list_events("i", 0, 1).total, 16u);
}

// RocksDB cuts a log it closes back to what it wrote (for its own fallocate reservation), and that
// takes the zeros too: hookd relies on it rather than trimming again.
TEST(PrefilledLogs, ClosingTheStoreTrimsTheZeros) {
  test::TempDir dir;
  fs::path data = dir.path() / "data";
  {
    Store store({data.string()});
    write_events(store, 2);
    ASSERT_EQ(write_ahead_logs(data).size(), 1u);
    EXPECT_GE(fs::file_size(write_ahead_logs(data)[0]), 2 * kMinStep);
  }
  auto logs = write_ahead_logs(data);
  ASSERT_FALSE(logs.empty());
  for (const auto& log : logs) {
    std::string bytes = read_file(log);
    EXPECT_EQ(bytes.size(), end_of_data(bytes)) << log;  // nothing after the last record
    EXPECT_LT(bytes.size(), 2 * kMinStep) << log;
  }
  Store reopened({data.string()});
  EXPECT_EQ(reopened.list_events("i", 0, 1).total, 16u);
}

TEST(PrefilledLogs, ALogThatCannotBeFilledIsWrittenAsBefore) {
  // Room for a little log, not for the zeros ahead of the first write (96 KiB): the fill gives
  // back what it wrote and stops. (Had it left the disk full, RocksDB's next log write would fail,
  // and with it the store: storage::Store::write.)
  test::SmallDisk disk("1m");
  test::TempDir crash;
  fs::path data = fs::path(disk.path()) / "data";
  Store::Options options{data.string()};
  options.min_free_bytes = 0;  // this test is about the fill meeting the full disk, not the store
  Store store(options);
  disk.fill(80u << 10);
  write_events(store, 1);

  auto logs = write_ahead_logs(data);
  ASSERT_EQ(logs.size(), 1u);
  std::string bytes = read_file(logs[0]);
  EXPECT_EQ(bytes.size(), end_of_data(bytes));  // RocksDB's bytes and no zeros after them
  EXPECT_GT(bytes.size(), 32000u);
  EXPECT_GT(fs::space(disk.path()).available, 32u << 10);  // the zeros' space given back

  fs::path copy = crash_image(data, crash.path());
  Store recovered({copy.string()});
  expect_events(recovered, 8);
}

}  // namespace
}  // namespace hookd::storage
