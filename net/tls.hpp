// TLS contexts for hookd's listeners and its delivery client.
#pragma once

#include <string>

#include "net/net.hpp"

namespace hookd::tls {

// A server context with TLS 1.2 or newer and the PEM certificate chain and key from the files.
// Throws std::runtime_error naming the file that could not be used.
ssl::context server_context(const std::string& cert_file, const std::string& key_file);

}  // namespace hookd::tls
