// The bus over TLS against a real nats-server with a tls block: a server signed by the CA the
// client was given is spoken to; one signed by another CA, an expired certificate, one for
// another host, a server without TLS and a client without the certificate mutual TLS wants
// are each refused with a reason a user can act on; and a bus started before its server keeps
// trying through a certificate it refuses until the server's is right.
#include <catch2/catch.hpp>
#include <filesystem>

#include "common/bus/bus.h"
#include "tests/support/catch_result.h"
#include "tests/support/nats_server.h"
#include "tests/support/test_certs.h"

using namespace autovibe;
using namespace autovibe::testing;
using namespace std::chrono_literals;

namespace {

// A CA, another CA, and a server certificate for 127.0.0.1 signed by the first.
struct Pki {
  explicit Pki(const std::string& dir)
      : ca(MakeTestCa(dir, "ca")),
        other(MakeTestCa(dir, "other-ca")),
        server(IssueTestCert(ca, dir, "server")) {}
  TestCa ca;
  TestCa other;
  TestCert server;
};

// Answers requests on "t.echo" with "echo:" and the request.
std::unique_ptr<Subscription> Echo(Bus& bus) {
  auto sub = bus.Subscribe("t.echo", "test", 1024,
                           [&bus](BusMessage m) { bus.Publish(m.reply, "echo:" + m.data); });
  REQUIRE(sub);
  return std::move(*sub);
}

BusOptions WithCa(const std::string& url, const std::string& ca) {
  BusOptions o = AdminBus(url);
  o.tls = BusTls{.ca_file = ca};
  return o;
}

std::string Port(const NatsServer& nats) { return std::to_string(nats.port()); }

}  // namespace

TEST_CASE("the bus speaks TLS to a server its CA signed and refuses one another CA signed",
          "[tls]") {
  TempDir dir;
  Pki pki(dir / "pki");
  NatsServer nats(dir / "nats", NatsTls{pki.server.cert, pki.server.key, pki.ca.cert});
  REQUIRE(nats.url().starts_with("tls://"));

  auto a = ConnectNats(AdminBus(nats.url()));
  REQUIRE(a);
  CHECK((*a)->Connected());
  auto echo = Echo(**a);
  BusOptions plain_url = WithCa(nats.url(), pki.ca.cert);
  plain_url.url = "nats://127.0.0.1:" + Port(nats);
  auto b = ConnectNats(plain_url);
  REQUIRE(b);  // a nats:// URL with a CA speaks TLS too
  auto reply = (*b)->Request("t.echo", "ping", 2s);
  REQUIRE(reply);
  CHECK(*reply == "echo:ping");

  auto wrong = ConnectNats(WithCa(nats.url(), pki.other.cert));
  REQUIRE_FALSE(wrong);
  CHECK(wrong.error().code == ErrorCode::kTls);
  CHECK_THAT(wrong.error().message,
             Catch::Contains("not signed by the CA in " + pki.other.cert + " (nats_ca)"));

  // No CA given, to a server that requires TLS: told what to give.
  BusOptions none = AdminBus(nats.url());
  none.url = "nats://127.0.0.1:" + Port(nats);
  none.tls = {};
  auto bare = ConnectNats(none);
  REQUIRE_FALSE(bare);
  CHECK(bare.error().code == ErrorCode::kTls);
  CHECK_THAT(bare.error().message, Catch::Contains("give it the server's CA"));

  auto users = *nats.users();
  auto login = CheckNatsLogin(nats.url(), users.controller_user, users.controller_password, 2s,
                              BusTls{.ca_file = pki.other.cert});
  REQUIRE_FALSE(login);
  CHECK(login.error().code == ErrorCode::kTls);
  CHECK(CheckNatsLogin(nats.url(), users.controller_user, users.controller_password, 2s,
                       BusTls{.ca_file = pki.ca.cert}));

  // A CA file that is not there is a configuration error, said at once.
  auto missing = ConnectNats(WithCa(nats.url(), dir / "no-such-ca.pem"));
  REQUIRE_FALSE(missing);
  CHECK(missing.error().code == ErrorCode::kBadConfig);
  CHECK_THAT(missing.error().message, Catch::Contains("cannot read nats_ca"));
}

TEST_CASE("an expired certificate and one for another host are refused", "[tls]") {
  TempDir dir;
  Pki pki(dir / "pki");
  auto expired = IssueTestCert(pki.ca, dir / "pki", "expired", "IP:127.0.0.1", -1);
  auto elsewhere = IssueTestCert(pki.ca, dir / "pki", "elsewhere", "DNS:bus.example.org");
  NatsServer old(dir / "old", NatsTls{expired.cert, expired.key, pki.ca.cert});
  NatsServer other(dir / "other", NatsTls{elsewhere.cert, elsewhere.key, pki.ca.cert});

  auto a = ConnectNats(AdminBus(old.url()));
  REQUIRE_FALSE(a);
  CHECK(a.error().code == ErrorCode::kTls);
  CHECK_THAT(a.error().message, Catch::Contains("certificate has expired"));

  auto b = ConnectNats(AdminBus(other.url()));
  REQUIRE_FALSE(b);
  CHECK(b.error().code == ErrorCode::kTls);
  CHECK_THAT(b.error().message, Catch::Contains("for another host"));
}

TEST_CASE(
    "a client that wants TLS is refused by a plain server, and mutual TLS wants its certificate",
    "[tls]") {
  TempDir dir;
  Pki pki(dir / "pki");
  NatsServer plain(dir / "plain");
  auto a = ConnectNats(WithCa(plain.url(), pki.ca.cert));
  REQUIRE_FALSE(a);
  CHECK(a.error().code == ErrorCode::kTls);
  CHECK_THAT(a.error().message, Catch::Contains("does not offer it"));

  NatsServer mutual(dir / "mutual", NatsTls{pki.server.cert, pki.server.key, pki.ca.cert, true});
  auto anonymous = ConnectNats(AdminBus(mutual.url()));
  REQUIRE_FALSE(anonymous);
  CHECK(anonymous.error().code == ErrorCode::kTls);
  CHECK_THAT(anonymous.error().message, Catch::Contains("wants a client certificate"));
  auto client = IssueTestCert(pki.ca, dir / "pki", "client");
  BusOptions o = AdminBus(mutual.url());
  o.tls.cert_file = client.cert;
  o.tls.key_file = client.key;
  auto known = ConnectNats(o);
  REQUIRE(known);
  CHECK((*known)->Connected());

  o.tls.key_file.clear();
  auto half = ConnectNats(o);
  REQUIRE_FALSE(half);
  CHECK(half.error().code == ErrorCode::kBadConfig);
}

TEST_CASE("a bus started before its server keeps trying through a refused certificate", "[tls]") {
  TempDir dir;
  Pki pki(dir / "pki");
  auto bad = IssueTestCert(pki.other, dir / "pki", "impostor");
  // The server's files: first the impostor's certificate, later the right one.
  const std::string cert = dir / "server.pem", key = dir / "server.key";
  auto install = [&](const TestCert& c) {
    std::filesystem::copy_file(c.cert, cert, std::filesystem::copy_options::overwrite_existing);
    std::filesystem::copy_file(c.key, key, std::filesystem::copy_options::overwrite_existing);
  };
  install(bad);
  NatsServer nats(dir / "nats", NatsTls{cert, key, pki.ca.cert});
  nats.Stop();

  std::atomic<int> connects{0};
  BusOptions o = AdminBus(nats.url());
  o.on_connected = [&] { ++connects; };
  auto bus = ConnectNats(o);
  REQUIRE(bus);  // not reachable yet: the bus tries in the background
  nats.Start();
  // Up, with a certificate the client refuses: it stays disconnected, and keeps trying.
  CHECK_FALSE(WaitUntil([&] { return (*bus)->Connected(); }, 1500ms));
  nats.Stop();
  install(pki.server);
  nats.Start();
  REQUIRE(WaitUntil([&] { return (*bus)->Connected(); }, 10s));
  CHECK(connects == 1);
  auto echo = Echo(**bus);
  auto reply = (*bus)->Request("t.echo", "after", 2s);
  REQUIRE(reply);
  CHECK(*reply == "echo:after");
}
