// The HTTP server over TLS (HttpServerOptions::tls) and our clients against it: trusted by its
// certificate as a CA file or by its pin, refused otherwise with what was expected and what
// was seen; plain http to the https port answered at once; and the limits of plain http
// (head deadline, connection caps, token checked before the body) holding over TLS. Real
// loopback sockets.
#include <catch2/catch.hpp>
#include <chrono>

#include "common/core/files.h"
#include "common/core/time.h"
#include "common/http/client.h"
#include "common/http/sse_client.h"
#include "common/http/tls_context.h"
#include "common/tls/issue.h"
#include "tests/support/catch_result.h"
#include "tests/support/half_sent.h"
#include "tests/support/process.h"
#include "tests/unit/http_server_fixture.h"

namespace autovibe {
namespace {

using namespace std::chrono_literals;
using testing::HalfSentRequests;
using testing::ServerUnderTest;
using testing::TempDir;
using testing::TimedGet;

// A self-signed certificate for 127.0.0.1, written to DIR/cert.pem, and a server context.
struct Identity {
  explicit Identity(const TempDir& dir, int64_t not_after_ms = 0,
                    std::vector<std::string> names = {"127.0.0.1"}) {
    const int64_t now = SystemClock().NowMs();
    auto made = MakeSelfSigned({.names = std::move(names),
                                .not_before_ms = not_after_ms ? not_after_ms - 86'400'000 : 0,
                                .not_after_ms = not_after_ms},
                               now);
    REQUIRE(made);
    pair = *made;
    cert_file = dir / "cert.pem";
    REQUIRE(WriteFileAtomic(cert_file, pair.cert_pem, 0600));
    auto ctx = MakeServerTlsContext(pair.cert_pem, pair.key_pem);
    REQUIRE(ctx);
    tls = *ctx;
  }
  CertificateAndKey pair;
  std::string cert_file;
  std::shared_ptr<boost::asio::ssl::context> tls;
};

std::string Url(const ServerUnderTest& s, const std::string& path) {
  return "https://127.0.0.1:" + std::to_string(s.port()) + path;
}

TEST_CASE("https server: served to a client that trusts it by CA file or pin, else refused",
          "[http][tls]") {
  TempDir dir;
  Identity id(dir);
  ServerUnderTest server({.tls = id.tls});

  auto by_ca = SendHttp({.url = Url(server, "/healthz"), .ca_file = id.cert_file});
  REQUIRE(by_ca);
  CHECK(by_ca->status == 200);
  CHECK(by_ca->body == "{\"path\":\"/healthz\"}");
  std::string plain_pin = id.pair.info.fingerprint;
  std::erase(plain_pin, ':');
  auto by_pin = SendHttp({.url = Url(server, "/healthz"), .pin_sha256 = plain_pin});
  REQUIRE(by_pin);
  CHECK(by_pin->status == 200);

  // The system's CAs do not know it: refused, saying which certificate was seen.
  auto untrusted = SendHttp({.url = Url(server, "/healthz")});
  REQUIRE_FALSE(untrusted);
  CHECK(untrusted.error().code == ErrorCode::kTls);
  CHECK_THAT(untrusted.error().message, Catch::Contains("not trusted") &&
                                            Catch::Contains("self-signed") &&
                                            Catch::Contains(id.pair.info.fingerprint) &&
                                            Catch::Contains("a CA this system trusts"));

  // Another certificate as the CA file: refused, naming the file.
  TempDir other_dir;
  Identity other(other_dir);
  auto wrong_ca = SendHttp({.url = Url(server, "/healthz"), .ca_file = other.cert_file});
  REQUIRE_FALSE(wrong_ca);
  CHECK_THAT(wrong_ca.error().message, Catch::Contains("not trusted") &&
                                           Catch::Contains(other.cert_file) &&
                                           Catch::Contains(id.pair.info.fingerprint));

  // Another pin: refused before the request (and its token) is sent.
  auto wrong_pin = SendHttp({.url = Url(server, "/v1/x"),
                             .bearer_token = "good",
                             .pin_sha256 = other.pair.info.fingerprint});
  REQUIRE_FALSE(wrong_pin);
  CHECK(wrong_pin.error().code == ErrorCode::kTls);
  CHECK_THAT(wrong_pin.error().message,
             Catch::Contains("has SHA-256 fingerprint " + id.pair.info.fingerprint) &&
                 Catch::Contains("not the pinned " + other.pair.info.fingerprint));
  CHECK(server.handled() == 2);

  // A name it does not carry.
  auto wrong_name = SendHttp(
      {.url = "https://localhost:" + std::to_string(server.port()) + "/", .ca_file = id.cert_file});
  REQUIRE_FALSE(wrong_name);
  CHECK_THAT(wrong_name.error().message, Catch::Contains("is for IP:127.0.0.1, not localhost"));

  auto bad_pin = SendHttp({.url = Url(server, "/"), .pin_sha256 = "12:34"});
  REQUIRE_FALSE(bad_pin);
  CHECK(bad_pin.error().code == ErrorCode::kBadRequest);
}

TEST_CASE("https server: an expired certificate is refused by CA file and by pin", "[http][tls]") {
  TempDir dir;
  Identity old(dir, SystemClock().NowMs() - 3'600'000);
  ServerUnderTest server({.tls = old.tls});
  auto by_ca = SendHttp({.url = Url(server, "/healthz"), .ca_file = old.cert_file});
  REQUIRE_FALSE(by_ca);
  CHECK(by_ca.error().code == ErrorCode::kTls);
  CHECK_THAT(by_ca.error().message, Catch::Contains("certificate has expired") &&
                                        Catch::Contains(FormatRfc3339(old.pair.info.not_after_ms)));
  auto by_pin = SendHttp({.url = Url(server, "/healthz"), .pin_sha256 = old.pair.info.fingerprint});
  REQUIRE_FALSE(by_pin);
  CHECK_THAT(by_pin.error().message, Catch::Contains("expired at"));
  CHECK(server.handled() == 0);
}

TEST_CASE(
    "https server: plain http to its port is answered 400 at once and a TLS client of a "
    "plain port is told",
    "[http][tls]") {
  TempDir dir;
  Identity id(dir);
  ServerUnderTest server({.tls = id.tls});
  auto plain = TimedGet(server.port(), "/healthz");
  CHECK(plain.status == 400);
  CHECK_THAT(plain.text, Catch::Contains("https only"));
  CHECK(plain.ms < 1000);
  CHECK(server.handled() == 0);

  ServerUnderTest plain_server({});
  auto tls_to_plain =
      SendHttp({.url = "https://127.0.0.1:" + std::to_string(plain_server.port()) + "/",
                .ca_file = id.cert_file});
  REQUIRE_FALSE(tls_to_plain);
  CHECK_THAT(tls_to_plain.error().message, Catch::Contains("use an http:// URL"));
}

TEST_CASE("https server: a handshake not done within the head's deadline ends the connection",
          "[http][tls]") {
  TempDir dir;
  Identity id(dir);
  ServerUnderTest server({.header_timeout = 300ms, .idle_timeout = 60s, .tls = id.tls});
  const auto start = std::chrono::steady_clock::now();
  HalfSentRequests held(server.port(), 2, 1, "\x16\x03\x01\x02");  // a ClientHello begun
  REQUIRE(testing::WaitUntil([&] { return held.StillOpen() == 0; }, 5s));
  CHECK(std::chrono::steady_clock::now() - start >= 300ms);
  auto served = SendHttp({.url = Url(server, "/healthz"), .ca_file = id.cert_file});
  REQUIRE(served);
  CHECK(served->status == 200);
}

TEST_CASE("https server: connection caps hold over TLS", "[http][tls]") {
  TempDir dir;
  Identity id(dir);
  ServerUnderTest server({.limits = {.max_connections = 100, .max_per_client = 3}, .tls = id.tls});
  HalfSentRequests held(server.port(), 3, 1, "\x16\x03\x01\x02");  // all from 127.0.0.2
  auto refused = TimedGet(server.port(), "/healthz", 5s, "127.0.0.2");
  CHECK(refused.status == 0);  // closed without an answer a TLS client could not read
  CHECK(refused.ms < 1000);
  auto served = SendHttp({.url = Url(server, "/healthz"), .ca_file = id.cert_file});
  REQUIRE(served);
  CHECK(served->status == 200);
  CHECK(held.StillOpen() == 3);
}

TEST_CASE("https server: the token is checked before the body, and event streams flow",
          "[http][tls]") {
  TempDir dir;
  Identity id(dir);
  ServerUnderTest server({.tls = id.tls});
  auto refused = SendHttp({.method = "POST",
                           .url = Url(server, "/v1/tasks"),
                           .body = std::string(500'000, 'x'),
                           .ca_file = id.cert_file});
  REQUIRE(refused);
  CHECK(refused->status == 401);
  CHECK(server.handled() == 0);
  auto served = SendHttp({.method = "POST",
                          .url = Url(server, "/v1/tasks"),
                          .bearer_token = "good",
                          .body = "{}",
                          .ca_file = id.cert_file});
  REQUIRE(served);
  CHECK(served->status == 200);

  std::vector<std::string> events;
  auto streamed = StreamEvents({.url = Url(server, "/events"), .ca_file = id.cert_file},
                               [&](const SseEvent& e) {
                                 events.push_back(e.data);
                                 return true;
                               });
  REQUIRE(streamed);
  CHECK(streamed->is_stream());
  CHECK(events == std::vector<std::string>{"one", "two"});
  auto wrong_pin = StreamEvents({.url = Url(server, "/events"), .pin_sha256 = std::string(64, 'A')},
                                [](const SseEvent&) { return true; });
  REQUIRE_FALSE(wrong_pin);
  CHECK_THAT(wrong_pin.error().message, Catch::Contains("not the pinned"));
}

}  // namespace
}  // namespace autovibe
