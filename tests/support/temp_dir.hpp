// A fresh directory (under /tmp unless told otherwise), removed with everything in it when the
// object goes.
#pragma once

#include <filesystem>
#include <string>

namespace hookd::test {

class TempDir {
 public:
  explicit TempDir(const std::filesystem::path& parent = "/tmp");
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::string str() const { return path_.string(); }

 private:
  std::filesystem::path path_;
};

}  // namespace hookd::test
