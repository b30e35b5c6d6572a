#include <iostream>
#include <string>
#include <vector>

#include "daemon/cli.hpp"

int main(int argc, char** argv) {
  return hookd::run_cli(std::vector<std::string>(argv + 1, argv + argc), std::cout, std::cerr);
}
