#include "storage/tuning.hpp"

#include <rocksdb/filter_policy.h>
#include <rocksdb/merge_operator.h>
#include <rocksdb/slice_transform.h>
#include <rocksdb/sst_file_manager.h>
#include <rocksdb/sst_partitioner.h>
#include <rocksdb/table.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <optional>
#include <string>

#include "storage/codec.hpp"
#include "storage/info_log.hpp"

namespace hookd::storage {
namespace {

// Keeps the largest big-endian u64 of all operands, so concurrent batches cannot lower it.
class MaxU64Merge final : public rocksdb::AssociativeMergeOperator {
 public:
  bool Merge(const rocksdb::Slice&, const rocksdb::Slice* existing, const rocksdb::Slice& value,
             std::string* new_value, rocksdb::Logger*) const override {
    std::uint64_t v = read_be64(std::string_view(value.data(), value.size()));
    if (existing) v = std::max(v, read_be64(std::string_view(existing->data(), existing->size())));
    *new_value = be64(v);
    return true;
  }
  const char* Name() const override { return "hookd.MaxU64"; }
};

// Groups of keys that are written in key order: an integration's event records ('r', by creation
// sequence), a webhook's deliveries ('w'), an integration's event-to-delivery index ('e', by event
// sequence), and delivery records ('d', by id: ids are time-ordered uuids). The memtable keeps an
// insert position per group and starts each insert next to the previous one of its group, instead
// of searching the whole skiplist, comparing a shared prefix (tag and integration id, 38 bytes)
// at every step and missing the cache at most of them. A group is the tag alone, or the tag, the
// integration and '\0' and `extra` bytes after it (the webhook's sequence for 'w'). Other keys are
// inserted as usual. Groups must stay few: the memtable keeps about 250 bytes per group it has seen.
class OrderedGroups final : public rocksdb::SliceTransform {
 public:
  struct Group {
    char tag;
    bool per_integration;
    std::size_t extra = 0;
  };
  OrderedGroups(std::initializer_list<Group> groups) {
    for (const auto& g : groups) groups_[static_cast<unsigned char>(g.tag)] = g;
  }
  const char* Name() const override { return "hookd.OrderedGroups"; }
  bool InDomain(const rocksdb::Slice& key) const override { return group_size(key) > 0; }
  rocksdb::Slice Transform(const rocksdb::Slice& key) const override { return {key.data(), group_size(key)}; }

 private:
  std::size_t group_size(const rocksdb::Slice& key) const {
    if (key.empty()) return 0;
    const auto& group = groups_[static_cast<unsigned char>(key[0])];
    if (!group) return 0;
    if (!group->per_integration) return 1;
    const void* end = std::memchr(key.data(), '\0', key.size());
    if (!end) return 0;
    std::size_t size = static_cast<std::size_t>(static_cast<const char*>(end) - key.data()) + 1 + group->extra;
    return size <= key.size() ? size : 0;
  }
  std::array<std::optional<Group>, 256> groups_;
};

// In Store::Family order.
const std::vector<std::string> kFamilyNames = {"integrations", "api_keys", "webhooks", "idempotency", "events",
                                               "deliveries",   "due",      "attempts", "default"};

}  // namespace

Tuning tune(const Store::Options& options, rocksdb::Env* env) {
  Tuning t;
  rocksdb::DBOptions& db_options = t.db;
  db_options.create_if_missing = true;
  db_options.create_missing_column_families = true;
  db_options.env = env;
  db_options.IncreaseParallelism(2);
  db_options.info_log = new_info_log();  // into hookd's log, not a file (storage/info_log.hpp)
  // Table files written by flushes and compactions are synced in 1 MiB steps as they grow rather
  // than all at the end: a burst of their dirty pages delays the log's fdatasync, which every
  // acknowledgement waits for (ack p99 at a steady 10,000 events/s: about 3 ms less).
  db_options.bytes_per_sync = 1 << 20;
  // Files RocksDB no longer needs (logs whose records are all flushed, tables and blob files a
  // compaction replaced) are renamed to *.trash and cut off 4 MiB at a time, at most 256 MiB a
  // second, on a thread of their own, instead of unlinked at once. A file system mounted with
  // `discard` hands every freed range to the disk when its journal commits, and on this project's
  // disks the discard of a whole 47 MiB log held up the syncs after it for 11-56 ms: the
  // acknowledgements of that moment were the slowest of a steady load. Trash left by a crash is
  // deleted when the store opens again. Only while the trash is over a quarter of the live table
  // and blob files (RocksDB's default) are files deleted at once, so that it never piles up.
  rocksdb::Status manager_status;
  db_options.sst_file_manager.reset(rocksdb::NewSstFileManager(
      env, db_options.info_log, /*trash_dir=*/"", /*rate_bytes_per_sec=*/256 << 20,
      /*delete_existing_trash=*/true, &manager_status, /*max_trash_db_ratio=*/0.25, /*bytes_max_delete_chunk=*/4 << 20));
  if (!manager_status.ok()) db_options.sst_file_manager.reset();  // deleted at once, as without it
  // Memtable insert hints (below) work only without concurrent memtable writes, and hookd's hot
  // writes come from one thread anyway: the group committer's.
  db_options.allow_concurrent_memtable_write = false;
  // One memtable budget for all column families, so that memory stays bounded however much is
  // written: RocksDB's default is 64 MiB per family. When it is reached, RocksDB flushes the family
  // whose memtable is the oldest (often a small one), not the largest.
  db_options.db_write_buffer_size = options.memtable_bytes;

  rocksdb::BlockBasedTableOptions table;
  table.block_cache = rocksdb::NewLRUCache(options.block_cache_bytes);
  // Point reads of fresh records (the engine reads each delivery as it attempts it, moments after
  // ingress wrote it) would otherwise search every young table file and read its blocks back:
  // bloom filters skip the files without the key, and blocks written by a flush start in the cache.
  table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  table.prepopulate_block_cache = rocksdb::BlockBasedTableOptions::PrepopulateBlockCache::kFlushOnly;
  rocksdb::ColumnFamilyOptions cf_options;
  cf_options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  // A bloom filter per memtable: a point read (the engine reads a delivery per attempt) skips the
  // memtables that do not hold its key instead of searching each one's skiplist. It is allocated
  // with the memtable's first record, at this fraction of write_buffer_size however few follow:
  // 1% gives a full memtable of delivery records (the smallest read by key) over 10 bits per key.
  cf_options.memtable_whole_key_filtering = true;
  cf_options.memtable_prefix_bloom_size_ratio = 0.01;
  cf_options.write_buffer_size = options.memtable_bytes;
  // Families written rarely, or a few bytes at a time, get small memtables. A memtable's filter
  // and first arena block count against the budget from its first record: at 5% of 64 MiB, one
  // holding a few records took 3.6 MiB, and busy families were flushed at 13 MiB on average.
  rocksdb::ColumnFamilyOptions small_options = cf_options;
  small_options.write_buffer_size = std::min<std::size_t>(options.memtable_bytes, 4u << 20);

  // The events and deliveries families hold several kinds of key (store_internal.hpp), and each
  // flush writes a few MiB of every kind, so a level-0 file spans from the first kind to the
  // last, over all that the levels below hold of the kinds between. A level-0 compaction rewrites
  // every file of level 1 it overlaps: level 1 is kept about as large as level 0 (RocksDB's rule;
  // at its default of 256 MiB the deliveries family's compactions rewrote all of a level 1 that
  // grew the longer hookd ran, a quarter of a core after five minutes at 10,000 events/s), and
  // compactions cut their files where the kind changes, so that a file of new keys of one kind
  // overlaps the files of that kind next to it in the level below, not every older file of the
  // next kind (bench/RESULTS.md, step 61).
  auto many_kinds = [](rocksdb::ColumnFamilyOptions& o) {
    o.max_bytes_for_level_base = 16 << 20;
    o.target_file_size_base = 4 << 20;
    o.sst_partitioner_factory = rocksdb::NewSstPartitionerFixedPrefixFactory(1);
  };

  for (const auto& name : kFamilyNames) {
    bool busy = name == "events" || name == "deliveries" || name == "due" || name == "attempts";
    rocksdb::ColumnFamilyOptions o = busy ? cf_options : small_options;
    if (name == "default") o.merge_operator = std::make_shared<MaxU64Merge>();
    if (name == "events") {
      // Event bodies (up to the request limit) are written once and never change: kept in blob
      // files, compactions move only their keys instead of rewriting every body again and again.
      // What is left in its table files is keys and blob references, about 150 bytes an event.
      o.enable_blob_files = true;
      o.min_blob_size = 256;
      many_kinds(o);
      o.memtable_insert_with_hint_prefix_extractor =
          std::make_shared<OrderedGroups>(std::initializer_list<OrderedGroups::Group>{{'r', true}});
    }
    if (name == "deliveries") {
      many_kinds(o);
      o.memtable_insert_with_hint_prefix_extractor = std::make_shared<OrderedGroups>(
          std::initializer_list<OrderedGroups::Group>{{'d', false}, {'w', true, 8}, {'e', true}});
    }
    // Attempts are keyed by delivery id first: one group, like the delivery records.
    if (name == "attempts") o.memtable_insert_with_hint_prefix_extractor.reset(rocksdb::NewFixedPrefixTransform(0));
    // Due entries are added in about time order: one group per 2^24 ms (4.7 hours) of due time.
    if (name == "due") o.memtable_insert_with_hint_prefix_extractor.reset(rocksdb::NewFixedPrefixTransform(5));
    t.families.emplace_back(name, o);
  }
  return t;
}

}  // namespace hookd::storage
