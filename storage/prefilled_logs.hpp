// RocksDB's write-ahead logs filled with zeros ahead of their writes, so that the syncs every
// acknowledgement waits for overwrite the file instead of growing it.
//
// An fdatasync after a write that made the file longer must also write the inode (the new size,
// and the extent converted from the space RocksDB reserves with fallocate) before it returns; after
// a write over blocks that are already written and inside the file it writes only the data. On
// this project's disks that is 0.24 against 0.17 ms a sync (bench/RESULTS.md, step 46). RocksDB's
// own remedy, recycling log files, is off under point-in-time recovery, the mode hookd needs.
//
// Recovery reads such a log as it reads any other: RocksDB's log reader takes zeros after the last
// record for padding (a zero-typed, zero-length record, which it skips without reporting), and a
// write torn by a crash ends in a checksum mismatch, which point-in-time recovery treats as the
// log's end, as it treats a torn tail at the end of the file. Closing a log trims the zeros:
// RocksDB cuts every log it closes back to what it wrote, for the space it reserves with fallocate.
#pragma once

#include <memory>

namespace rocksdb {
class Env;
}

namespace hookd::storage {

// An Env over RocksDB's default one whose write-ahead-log files are zero-filled ahead of their
// writes. Set it as DBOptions::env; it must outlive the DB.
std::unique_ptr<rocksdb::Env> new_prefilled_log_env();

}  // namespace hookd::storage
