// The HTTP client over TLS against a real TLS server (openssl s_server) with a self-signed
// certificate: refused against the system's CAs, accepted with that certificate as the CA
// file, and with checking off (a self-signed Proxmox, say).
#include <catch2/catch.hpp>
#include <cstdlib>

#include "common/http/client.h"
#include "tests/support/catch_result.h"
#include "tests/support/process.h"

using namespace autovibe;
using namespace autovibe::testing;
using namespace std::chrono_literals;

TEST_CASE("https calls check the server's certificate unless told not to") {
  TempDir dir;
  const std::string cert = dir / "cert.pem", key = dir / "key.pem";
  REQUIRE(std::system(("openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 "
                       "-addext subjectAltName=IP:127.0.0.1 -keyout " +
                       key + " -out " + cert + " 2>/dev/null")
                          .c_str()) == 0);
  const uint16_t port = FreePort();
  ChildProcess server({"openssl", "s_server", "-accept", "127.0.0.1:" + std::to_string(port),
                       "-cert", cert, "-key", key, "-www", "-quiet"},
                      dir / "server.log");
  REQUIRE(WaitUntil([&] { return PortOpen(port); }, 10s));
  const std::string url = "https://127.0.0.1:" + std::to_string(port) + "/";

  HttpCall call;
  call.url = url;
  auto untrusted = SendHttp(call);
  REQUIRE_FALSE(untrusted);
  CHECK(untrusted.error().code == ErrorCode::kTls);

  call.ca_file = cert;
  auto trusted = SendHttp(call);
  REQUIRE(trusted);
  CHECK(trusted->status == 200);

  call.ca_file.clear();
  call.verify_tls = false;
  auto unchecked = SendHttp(call);
  REQUIRE(unchecked);
  CHECK(unchecked->status == 200);

  // A certificate for another name is refused even with it as the CA.
  call.url = "https://localhost:" + std::to_string(port) + "/";
  call.verify_tls = true;
  call.ca_file = cert;
  auto wrong_name = SendHttp(call);
  REQUIRE_FALSE(wrong_name);
  CHECK(wrong_name.error().code == ErrorCode::kTls);
}
