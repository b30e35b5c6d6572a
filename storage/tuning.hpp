// How the store sets RocksDB up: the database's options and each column family's, each with the
// reason it is set (most are for speed; the measurements are in bench/RESULTS.md), and the two
// plug-ins they name: the merge operator that keeps the sequences' high-water marks, and the
// memtables' insert-hint groups. The key layout is in store_internal.hpp.
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
