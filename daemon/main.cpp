#include <csignal>
#include <iostream>
#include <string>
#include <vector>

#include "daemon/cli.hpp"

int main(int argc, char** argv) {
  // A write to a connection the peer has closed must fail with EPIPE, not end the daemon. Asio
  // asks for that per send (MSG_NOSIGNAL), but not in the sends it submits to io_uring, and not
  // every kernel's io_uring adds it.
  std::signal(SIGPIPE, SIG_IGN);
  return hookd::run_cli(std::vector<std::string>(argv + 1, argv + argc), std::cout, std::cerr);
}
