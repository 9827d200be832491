// The API over TLS with real processes: the controller serves https from its first start with
// a self-signed certificate it keeps (0600, the same across restarts), or with a certificate
// `tls init` made; the CLI verifies it by pin, CA file or (a local controller) its data dir,
// and refuses a wrong CA, an expired certificate and a wrong pin, saying what it expected and
// what it saw; plain http only on loopback unless --insecure-http; and on the loopback wire
// the token is never seen in the clear over https (and is, as a control, over plain http).
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>

#include "common/core/files.h"
#include "common/core/run_program.h"
#include "common/core/time.h"
#include "common/tls/certificate.h"
#include "common/tls/issue.h"
#include "tests/support/bus_auth.h"
#include "tests/support/catch_result.h"
#include "tests/support/fleet_harness.h"
#include "tests/support/loopback_capture.h"
#include "tests/support/nats_server.h"

using namespace autovibe;
using namespace autovibe::testing;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

struct CliRun {
  int exit_code;
  std::string output;  // stdout and stderr together
};

// Runs the CLI with `env` ("NAME=value") added to its environment.
CliRun RunCli(const TempDir& dir, std::vector<std::string> args,
              std::vector<std::string> env = {}) {
  static int n = 0;
  std::vector<std::string> argv = {"/usr/bin/env"};
  argv.insert(argv.end(), env.begin(), env.end());
  argv.push_back(BinPath("autovibe"));
  argv.insert(argv.end(), args.begin(), args.end());
  ChildProcess p(argv, dir / ("cli-" + std::to_string(++n) + ".out"));
  int code = p.Wait(15s);
  return {code, p.Log()};
}

mode_t Mode(const std::string& path) {
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  return st.st_mode & 0777;
}

std::string Fingerprint(const std::string& cert_file) {
  auto info = InspectCertificate(ReadFile(cert_file).value());
  REQUIRE(info);
  return info->fingerprint;
}

// `autovibe-controller ARGS` with the harness bus's flags, to its end: its output, or why not.
Result<std::string> RunController(const NatsServer& nats, std::vector<std::string> args) {
  args.insert(args.begin(), {BinPath("autovibe-controller"), "--nats", nats.url()});
  for (auto& a : ControllerBusArgs(nats.url())) args.push_back(a);
  return RunProgram({std::move(args), 30s});
}

}  // namespace

TEST_CASE("the API serves https from first start with a self-signed certificate it keeps",
          "[tls]") {
  TempDir dir;
  NatsServer nats(dir / "nats");
  const std::string data = dir / "controller";
  auto controller = std::make_unique<ControllerProcess>(
      data, nats.url(), std::vector<std::string>{}, 0, ApiScheme::kHttps);
  const std::string cert = data + "/tls-cert.pem";
  CHECK(Mode(cert) == 0600);
  CHECK(Mode(data + "/tls-key.pem") == 0600);
  const std::string fingerprint = Fingerprint(cert);
  // Its fingerprint is in the log, with how to use it.
  CHECK_THAT(controller->process().Log(),
             Catch::Contains("SHA-256 " + fingerprint) && Catch::Contains("--pin " + fingerprint));
  auto machines = controller->Call("GET", "/v1/machines");
  REQUIRE(machines);
  CHECK(machines->status == 200);

  const std::string url = controller->base_url();
  const std::string token = controller->token();
  // By pin (plain hex, as some tools print it), by CA file, and as the local controller.
  std::string plain_pin = fingerprint;
  std::erase(plain_pin, ':');
  auto pinned =
      RunCli(dir, {"--controller", url, "--token", token, "--pin", plain_pin, "machines", "list"});
  CHECK(pinned.exit_code == 0);
  INFO(pinned.output);
  auto by_env =
      RunCli(dir, {"machines", "list"},
             {"AUTOVIBE_CONTROLLER=" + url, "AUTOVIBE_TOKEN=" + token, "AUTOVIBE_CA=" + cert});
  CHECK(by_env.exit_code == 0);
  auto local =
      RunCli(dir, {"machines", "list"},
             {"AUTOVIBE_CONTROLLER=" + url, "AUTOVIBE_TOKEN_FILE=" + data + "/admin.token"});
  CHECK(local.exit_code == 0);
  INFO(local.output);

  // The same certificate after a restart: pins stay good.
  controller.reset();
  controller = std::make_unique<ControllerProcess>(data, nats.url(), std::vector<std::string>{}, 0,
                                                   ApiScheme::kHttps);
  CHECK(Fingerprint(cert) == fingerprint);
  auto after = RunCli(dir, {"--controller", controller->base_url(), "--token", token, "--pin",
                            fingerprint, "machines", "list"});
  CHECK(after.exit_code == 0);
}

TEST_CASE("the CLI refuses a wrong pin, a wrong CA and an expired certificate, saying why",
          "[tls]") {
  TempDir dir;
  NatsServer nats(dir / "nats");
  const std::string data = dir / "controller";
  ControllerProcess controller(data, nats.url(), {}, 0, ApiScheme::kHttps);
  const std::string url = controller.base_url();
  const std::string seen = Fingerprint(data + "/tls-cert.pem");
  auto other = MakeSelfSigned({.names = {"127.0.0.1"}}, SystemClock().NowMs());
  REQUIRE(other);
  const std::string other_ca = dir / "other-ca.pem";
  REQUIRE(WriteFileAtomic(other_ca, other->cert_pem, 0600));

  auto wrong_pin = RunCli(dir, {"--controller", url, "--token", controller.token(), "--pin",
                                other->info.fingerprint, "machines", "list"});
  CHECK(wrong_pin.exit_code == 1);
  CHECK_THAT(wrong_pin.output, Catch::Contains("refusing the controller at " + url) &&
                                   Catch::Contains("has SHA-256 fingerprint " + seen) &&
                                   Catch::Contains("not the pinned " + other->info.fingerprint));
  auto wrong_ca = RunCli(dir, {"machines", "list"},
                         {"AUTOVIBE_CONTROLLER=" + url, "AUTOVIBE_TOKEN=" + controller.token(),
                          "AUTOVIBE_CA=" + other_ca});
  CHECK(wrong_ca.exit_code == 1);
  CHECK_THAT(wrong_ca.output, Catch::Contains("is not trusted") &&
                                  Catch::Contains("checked against the CA file " + other_ca) &&
                                  Catch::Contains(seen));
  // No CA, no pin, not a local controller's data dir: the system's CAs do not know it.
  auto unknown =
      RunCli(dir, {"--controller", url, "--token", controller.token(), "machines", "list"},
             {"AUTOVIBE_TOKEN_FILE=" + dir / "nowhere/admin.token"});
  CHECK(unknown.exit_code != 0);
  CHECK_THAT(unknown.output, Catch::Contains("a CA this system trusts"));
  // Following an event stream goes through the same check.
  auto follow = RunCli(dir, {"--controller", url, "--token", controller.token(), "--pin",
                             other->info.fingerprint, "task", "logs", "t-1", "-f"});
  CHECK(follow.exit_code == 1);
  CHECK_THAT(follow.output, Catch::Contains("not the pinned"));
  auto bad_pin = RunCli(dir, {"--controller", url, "--pin", "abc", "machines", "list"});
  CHECK(bad_pin.exit_code == 2);
  CHECK_THAT(bad_pin.output, Catch::Contains("64 hex digits"));

  // An expired certificate: the controller will not serve it...
  const int64_t now = SystemClock().NowMs();
  auto expired = MakeSelfSigned({.names = {"127.0.0.1"},
                                 .not_before_ms = now - 10 * 86'400'000ll,
                                 .not_after_ms = now - 60'000},
                                now);
  REQUIRE(expired);
  const std::string old_cert = dir / "old-cert.pem", old_key = dir / "old-key.pem";
  REQUIRE(WriteFileAtomic(old_cert, expired->cert_pem, 0600));
  REQUIRE(WriteFileAtomic(old_key, expired->key_pem, 0600));
  auto refused = RunController(nats, {"--data-dir", dir / "expired", "--listen", "127.0.0.1:0",
                                      "--tls-cert", old_cert, "--tls-key", old_key});
  REQUIRE_FALSE(refused);
  CHECK_THAT(refused.error().message, Catch::Contains(old_cert) && Catch::Contains("expired at"));
  // ...and the CLI refuses a server that does (openssl's own server), by CA file and by pin.
  const uint16_t port = FreePort();
  ChildProcess server({"openssl", "s_server", "-accept", "127.0.0.1:" + std::to_string(port),
                       "-cert", old_cert, "-key", old_key, "-www", "-quiet"},
                      dir / "s_server.log");
  REQUIRE(WaitUntil([&] { return PortOpen(port); }, 10s));
  const std::string old_url = "https://127.0.0.1:" + std::to_string(port);
  auto by_ca =
      RunCli(dir, {"--controller", old_url, "--token", "x", "--ca", old_cert, "machines", "list"});
  CHECK(by_ca.exit_code == 1);
  CHECK_THAT(by_ca.output, Catch::Contains("certificate has expired") &&
                               Catch::Contains(FormatRfc3339(expired->info.not_after_ms)));
  auto by_pin = RunCli(dir, {"--controller", old_url, "--token", "x", "--pin",
                             expired->info.fingerprint, "machines", "list"});
  CHECK(by_pin.exit_code == 1);
  CHECK_THAT(by_pin.output, Catch::Contains("expired at"));
}

TEST_CASE("a certificate made by tls init is served and verified with its CA", "[tls]") {
  TempDir dir;
  NatsServer nats(dir / "nats");
  const std::string certs = dir / "certs";
  auto init = RunProgram({{BinPath("autovibe-controller"), "tls", "init", "--dir", certs, "--name",
                           "api", "--san", "ctl.example.com"},
                          30s});
  REQUIRE(init);
  CHECK_THAT(*init, Catch::Contains("made the CA " + certs + "/ca.pem") &&
                        Catch::Contains("DNS:ctl.example.com"));
  for (auto f : {"ca.pem", "ca-key.pem", "api.pem", "api-key.pem"}) {
    CHECK(Mode(certs + "/" + f) == 0600);
  }
  ControllerProcess controller(
      dir / "controller", nats.url(),
      {"--tls-cert", certs + "/api.pem", "--tls-key", certs + "/api-key.pem"}, 0,
      ApiScheme::kHttps);
  controller.set_ca_file(certs + "/ca.pem");
  auto machines = controller.Call("GET", "/v1/machines");
  REQUIRE(machines);
  CHECK(machines->status == 200);
  CHECK_FALSE(fs::exists(dir / "controller/tls-cert.pem"));  // no self-signed one made
  auto ok = RunCli(dir, {"--controller", controller.base_url(), "--token", controller.token(),
                         "--ca", certs + "/ca.pem", "machines", "list"});
  CHECK(ok.exit_code == 0);

  // Another CA's clients refuse it.
  REQUIRE(RunProgram({{BinPath("autovibe-controller"), "tls", "init", "--dir", dir / "other"}}));
  auto wrong = RunCli(dir, {"--controller", controller.base_url(), "--token", controller.token(),
                            "--ca", dir / "other/ca.pem", "machines", "list"});
  CHECK(wrong.exit_code == 1);
  CHECK_THAT(wrong.output, Catch::Contains("unable to get local issuer certificate") &&
                               Catch::Contains("issued by CN=autovibe CA"));
  // An existing certificate is not overwritten.
  auto again = RunProgram(
      {{BinPath("autovibe-controller"), "tls", "init", "--dir", certs, "--name", "api"}, 30s});
  REQUIRE_FALSE(again);
  CHECK_THAT(again.error().message, Catch::Contains("exists"));
}

TEST_CASE("plain http is refused on a non-loopback address unless --insecure-http", "[tls]") {
  TempDir dir;
  NatsServer nats(dir / "nats");
  const std::string port = std::to_string(FreePort());
  auto refused = RunController(
      nats, {"--data-dir", dir / "refused", "--listen", "0.0.0.0:" + port, "--plain-http"});
  REQUIRE_FALSE(refused);
  CHECK_THAT(refused.error().message, Catch::Contains("plain http on 0.0.0.0:" + port) &&
                                          Catch::Contains("not a loopback address") &&
                                          Catch::Contains("--insecure-http"));
  CHECK_FALSE(fs::exists(dir / "refused/controller.db"));
  auto both = RunController(nats, {"--data-dir", dir / "both", "--listen", "127.0.0.1:" + port,
                                   "--plain-http", "--tls-cert", "c", "--tls-key", "k"});
  REQUIRE_FALSE(both);
  CHECK_THAT(both.error().message, Catch::Contains("cannot go with plain_http"));

  // Told --insecure-http, it serves plain http there, and warns. A port found free a moment
  // ago may have been taken by a test running beside this one: then another.
  ChildProcess open;
  bool answered = false;
  for (int attempt = 1; attempt <= 3 && !answered; ++attempt) {
    const std::string open_port = std::to_string(FreePort());
    std::vector<std::string> argv = {BinPath("autovibe-controller"),
                                     "--data-dir",
                                     dir / ("open-" + std::to_string(attempt)),
                                     "--nats",
                                     nats.url(),
                                     "--listen",
                                     "0.0.0.0:" + open_port,
                                     "--insecure-http"};
    for (auto& a : ControllerBusArgs(nats.url())) argv.push_back(a);
    open = ChildProcess(argv, dir / ("open-" + std::to_string(attempt) + ".log"));
    WaitUntil(
        [&] {
          auto r = SendHttp({.url = "http://127.0.0.1:" + open_port + "/healthz", .timeout = 1s});
          answered = r && r->status == 200;
          return answered || !open.Running();
        },
        30s);
    INFO("attempt " << attempt << " on port " << open_port << ":\n" << open.Log());
    if (!answered) CHECK_THAT(open.Log(), Catch::Contains("in use"));
  }
  REQUIRE(answered);
  CHECK_THAT(open.Log(), Catch::Contains("INSECURE API"));
  for (int attempt = 1; attempt <= 3; ++attempt) {
    CHECK_FALSE(fs::exists(dir / ("open-" + std::to_string(attempt) + "/tls-cert.pem")));
  }
}

TEST_CASE("on the loopback wire the token is never in the clear over https", "[tls]") {
  if (::geteuid() != 0) {
    WARN("capturing on lo needs root");
    return;
  }
  TempDir dir;
  NatsServer nats(dir / "nats");
  ControllerProcess https(dir / "https", nats.url(), {}, 0, ApiScheme::kHttps);
  ControllerProcess http(dir / "http", nats.url() /* plain http on loopback */);
  // A token of our own, sent with the request, whatever the controller makes of it.
  const std::string token = "capture-me-" + std::string(24, 'q');
  auto call = [&](ControllerProcess& c, std::vector<std::string> extra) {
    std::vector<std::string> args = {"--controller", c.base_url(), "--token", token};
    args.insert(args.end(), extra.begin(), extra.end());
    args.insert(args.end(), {"machines", "list"});
    return RunCli(dir, args);
  };

  LoopbackCapture over_tls(https.port());
  auto sent = call(https, {"--ca", https.ca_file()});
  CHECK(sent.exit_code == 3);  // the controller got it, and refused it: the token crossed
  CHECK_THAT(sent.output, Catch::Contains("refused the token"));
  REQUIRE(
      WaitUntil([&] { return over_tls.Payloads().find("\x17\x03\x03") != std::string::npos; }, 5s));
  over_tls.Stop();
  const std::string encrypted = over_tls.Payloads();
  CHECK(encrypted.find("\x16\x03") != std::string::npos);  // a TLS handshake was seen
  CHECK(encrypted.find(token) == std::string::npos);
  CHECK(encrypted.find("Authorization") == std::string::npos);
  CHECK(encrypted.find("/v1/machines") == std::string::npos);

  // The control: over plain http the same capture sees it.
  LoopbackCapture in_clear(http.port());
  auto plain = call(http, {});
  CHECK(plain.exit_code == 3);
  REQUIRE(WaitUntil([&] { return in_clear.Payloads().find(token) != std::string::npos; }, 5s));
  CHECK_THAT(in_clear.Payloads(), Catch::Contains("Authorization: Bearer " + token));
}
