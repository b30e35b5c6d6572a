// A small tmpfs mounted for one test (the tests run as root), unmounted when the object goes: a
// disk that fills up.
#pragma once

#include <cstdint>
#include <string>

#include "tests/support/temp_dir.hpp"

namespace hookd::test {

class SmallDisk {
 public:
  // `size` as mount(8) takes it: "448m", "1m".
  explicit SmallDisk(const std::string& size);
  ~SmallDisk();
  SmallDisk(const SmallDisk&) = delete;
  SmallDisk& operator=(const SmallDisk&) = delete;
  const std::string& path() const { return path_; }

  // Writes a filler file until `leave_bytes` are free (to the page: tmpfs allocates whole pages).
  void fill(std::uint64_t leave_bytes);
  void free_filler();

 private:
  TempDir dir_;
  std::string path_;
};

}  // namespace hookd::test
