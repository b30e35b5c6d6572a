#include "tests/support/temp_dir.hpp"

#include <stdlib.h>

#include <stdexcept>

namespace hookd::test {

TempDir::TempDir() {
  std::string pattern = "/tmp/hookd-test-XXXXXX";
  if (!::mkdtemp(pattern.data())) throw std::runtime_error("mkdtemp failed");
  path_ = pattern;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

}  // namespace hookd::test
