// The controller's API TLS settings: config keys and flags, what goes together and what does
// not, plain http only on loopback unless insecure_http, and `tls init`'s flags.
#include <catch2/catch.hpp>

#include "controller/config.h"
#include "tests/support/catch_result.h"

namespace autovibe {
namespace {

ParsedArgs Parse(std::vector<std::string> args) {
  args.insert(args.begin(), "autovibe-controller");
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  return ParseControllerArgs(static_cast<int>(argv.size()), argv.data());
}

TEST_CASE("api tls config: keys, flags, and what goes together", "[config][tls]") {
  ControllerConfig c;
  REQUIRE(LoadControllerConfigToml(
      "tls_cert = \"/etc/a.pem\"\ntls_key = \"/etc/a-key.pem\"\nplain_http = false\n", c));
  CHECK(c.tls_cert == "/etc/a.pem");
  CHECK(ValidateControllerConfig(c));
  CHECK_FALSE(ServesPlainHttp(c));

  ControllerConfig sans;
  REQUIRE(LoadControllerConfigToml("tls_san = [\"ctl.example.com\", \"10.0.0.5\"]\n", sans));
  CHECK(sans.tls_san == std::vector<std::string>{"ctl.example.com", "10.0.0.5"});
  CHECK(ValidateControllerConfig(sans));
  CHECK_FALSE(LoadControllerConfigToml("tls_san = \"one\"\n", sans));
  CHECK_FALSE(LoadControllerConfigToml("insecure_http = 1\n", sans));

  auto refused = [](std::string toml, std::string why) {
    ControllerConfig bad;
    REQUIRE(LoadControllerConfigToml(toml, bad));
    auto r = ValidateControllerConfig(bad);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == ErrorCode::kBadConfig);
    CHECK_THAT(r.error().message, Catch::Contains(why));
  };
  refused("tls_cert = \"/a.pem\"\n", "tls_cert and tls_key go together");
  refused("tls_cert = \"/a\"\ntls_key = \"/k\"\nplain_http = true\n", "cannot go with plain_http");
  refused("tls_cert = \"/a\"\ntls_key = \"/k\"\ntls_san = [\"x\"]\n", "carries its own");
  refused("tls_san = [\"bad name\"]\n", "neither a host name nor an IP address");

  auto flags = Parse({"--insecure-bus", "--tls-san", "a.example.com", "--tls-san", "10.1.2.3"});
  REQUIRE(flags.exit_code == -1);
  CHECK(flags.config.tls_san == std::vector<std::string>{"a.example.com", "10.1.2.3"});
  auto given = Parse({"--insecure-bus", "--tls-cert", "/c.pem", "--tls-key", "/k.pem"});
  REQUIRE(given.exit_code == -1);
  CHECK(given.config.tls_key == "/k.pem");
  CHECK(Parse({"--insecure-bus", "--tls-cert", "/c.pem"}).exit_code > 0);
}

TEST_CASE("api tls config: plain http only on loopback unless insecure_http", "[config][tls]") {
  for (std::string listen : {"127.0.0.1:8080", "127.0.0.5:1", "[::1]:8080"}) {
    INFO(listen);
    ControllerConfig c;
    c.listen = listen;
    c.plain_http = true;
    CHECK(RequireSafeApi(c));
  }
  for (std::string listen : {"0.0.0.0:8080", "10.0.0.5:8080", "[::]:8080"}) {
    INFO(listen);
    ControllerConfig c;
    c.listen = listen;
    CHECK(RequireSafeApi(c));  // https: anywhere
    c.plain_http = true;
    auto r = RequireSafeApi(c);
    REQUIRE_FALSE(r);
    CHECK_THAT(r.error().message,
               Catch::Contains("not a loopback address") && Catch::Contains("--insecure-http"));
    c.insecure_http = true;
    CHECK(RequireSafeApi(c));
    c.plain_http = false;
    CHECK(ServesPlainHttp(c));  // insecure_http alone means plain http
  }
  CHECK(Parse({"--insecure-bus", "--listen", "0.0.0.0:80", "--plain-http"}).exit_code > 0);
  CHECK(Parse({"--insecure-bus", "--listen", "0.0.0.0:80", "--insecure-http"}).exit_code == -1);
  CHECK(Parse({"--insecure-bus", "--listen", "0.0.0.0:80"}).exit_code == -1);
}

TEST_CASE("api tls config: tls init takes a directory, a name and host names", "[config][tls]") {
  auto init = Parse({"tls", "init", "--dir", "/tmp/certs", "--name", "nats", "--san",
                     "nats.example.com", "--days", "30"});
  REQUIRE(init.exit_code == -1);
  CHECK(init.command == "tls-init");
  CHECK(init.tls_init.dir == "/tmp/certs");
  CHECK(init.tls_init.name == "nats");
  CHECK(init.tls_init.days == 30);
  // This host's usual names come first, then those asked for.
  CHECK(init.tls_init.names.front() == "127.0.0.1");
  CHECK(init.tls_init.names.back() == "nats.example.com");
  CHECK(Parse({"tls", "init"}).exit_code > 0);  // --dir is needed
  CHECK(Parse({"tls", "init", "--dir", "/x", "--days", "0"}).exit_code > 0);
}

}  // namespace
}  // namespace autovibe
