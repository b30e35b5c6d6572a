// RocksDB's info log (flushes, compactions, the options at open, errors) sent to hookd's log
// (spdlog's default logger) instead of to the file LOG in the data directory.
//
// Why not RocksDB's own file: in Debian's build (assertions on), its file logger aborts the process
// on the line after one it failed to write, and it writes a line about every failed write. A disk
// filled up by another process took hookd down, again after each restart, until space returned.
// hookd's log goes to stderr (the journal under systemd), whose failures spdlog reports and
// survives.
//
// Levels: RocksDB's warnings, errors and fatal errors are hookd's warn, error and critical. Its
// info and header lines (many: each flush and compaction, the options at open, statistics every
// ten minutes) are hookd's debug, and its debug lines hookd's trace; lines below hookd's log level
// are not formatted at all.
#pragma once

#include <rocksdb/env.h>

#include <memory>

namespace hookd::storage {

std::shared_ptr<rocksdb::Logger> new_info_log();

}  // namespace hookd::storage
