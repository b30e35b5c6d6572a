#include "tests/support/temp_dir.hpp"

#include <stdlib.h>

#include <stdexcept>

namespace hookd::test {

TempDir::TempDir(const std::filesystem::path& parent) {
  std::string pattern = (parent / "hookd-test-XXXXXX").string();  // mkdtemp's template
  if (!::mkdtemp(pattern.data())) throw std::runtime_error("mkdtemp failed under " + parent.string());
  path_ = pattern;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

}  // namespace hookd::test
