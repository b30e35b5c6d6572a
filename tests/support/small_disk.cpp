#include "tests/support/small_disk.hpp"

#include <sys/mount.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <stdexcept>

namespace hookd::test {

SmallDisk::SmallDisk(const std::string& size) : path_(dir_.str() + "/disk") {
  std::filesystem::create_directories(path_);
  std::string options = "size=" + size;
  if (::mount("tmpfs", path_.c_str(), "tmpfs", 0, options.c_str()) != 0)
    throw std::runtime_error("mount tmpfs failed (the tests run as root): " + std::string(std::strerror(errno)));
}

SmallDisk::~SmallDisk() { ::umount2(path_.c_str(), MNT_DETACH); }

void SmallDisk::fill(std::uint64_t leave_bytes) {
  std::ofstream filler(path_ + "/filler", std::ios::binary);
  std::string chunk(1 << 16, 'f');
  auto available = [&] { return std::filesystem::space(path_).available; };
  while (available() > leave_bytes + chunk.size()) filler.write(chunk.data(), chunk.size());
  filler.flush();
  if (available() > leave_bytes) filler.write(chunk.data(), available() - leave_bytes);
}

void SmallDisk::free_filler() { std::filesystem::remove(path_ + "/filler"); }

}  // namespace hookd::test
