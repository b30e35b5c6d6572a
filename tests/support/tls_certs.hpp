// A throwaway certificate authority and a server certificate it signed, as PEM files, made with
// OpenSSL in the test itself: nothing is checked in and nothing outlives the test.
#pragma once

#include <string>
#include <vector>

namespace hookd::test {

struct TlsFiles {
  std::string ca_cert;      // the CA's certificate: what a client trusts
  std::string server_cert;  // the server's certificate, signed by the CA
  std::string server_key;
};

// Writes the files into `dir`; the server certificate is valid for the given DNS names and IPs.
TlsFiles make_tls_files(const std::string& dir, const std::vector<std::string>& dns_names = {"localhost"},
                        const std::vector<std::string>& ips = {"127.0.0.1"});

}  // namespace hookd::test
