// The `hookd` command line (SPEC §1 and §7): serve, integration create|list, key create|list|revoke,
// --version. Admin subcommands talk to a running daemon through its Unix socket in the data
// directory, or open the store directly when no daemon runs. Each prints JSON on stdout.
#pragma once

#include <iosfwd>
#include <string>
#include <vector>

namespace hookd {

// Runs the command `args` (without the program name); returns the process exit code.
int run_cli(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

}  // namespace hookd
