// Test support: certificates made with the openssl command line, for TLS to nats-server.
// Keys are EC P-256 and private (0600). Each call throws std::runtime_error when openssl fails.
#pragma once

#include <string>

namespace autovibe::testing {

// A certificate authority: <dir>/<name>.pem (its certificate, what clients are given) and
// <dir>/<name>.key.
struct TestCa {
  std::string cert;
  std::string key;
};

// A self-signed CA valid for 30 days.
TestCa MakeTestCa(const std::string& dir, const std::string& name);

// A certificate and its key: <dir>/<name>.pem and <dir>/<name>.key.
struct TestCert {
  std::string cert;
  std::string key;
};

// A certificate for `names` (subjectAltName, e.g. "IP:127.0.0.1,DNS:localhost"), for servers
// and clients, signed by `ca`, valid `days` from now; with a negative `days` it expired that
// long ago (its notAfter is in the past).
TestCert IssueTestCert(const TestCa& ca, const std::string& dir, const std::string& name,
                       const std::string& names = "IP:127.0.0.1,DNS:localhost", int days = 30);

}  // namespace autovibe::testing
