// How the store sets RocksDB up for hookd's work: the database's options and each column family's,
// each with the reason it is set (the measurements are in bench/RESULTS.md). Kept apart from
// store.cpp, which reads and writes records, because these change for speed, not for meaning:
// nothing here changes what a key or a value is.
#pragma once

#include <rocksdb/db.h>
#include <rocksdb/env.h>
#include <rocksdb/options.h>

#include <vector>

#include "storage/store.hpp"

namespace hookd::storage {

struct Tuning {
  rocksdb::DBOptions db;
  std::vector<rocksdb::ColumnFamilyDescriptor> families;  // in Store::Family order
};

// The options for a store opened with `options` on `env`, which must outlive the database.
Tuning tune(const Store::Options& options, rocksdb::Env* env);

}  // namespace hookd::storage
