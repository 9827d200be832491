// Finding the controller and its token, and turning replies into JSON or exit codes.
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <map>

#include "cli/client.h"
#include "common/tls/certificate.h"

namespace autovibe::cli {
namespace {

namespace fs = std::filesystem;

EnvLookup FakeEnv(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](const char* name) -> std::optional<std::string> {
    auto it = vars.find(name);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

// A fresh directory under /tmp, removed at the end of the test.
struct TempDir {
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "cli_client_test.XXXXXX").string();
    REQUIRE(mkdtemp(tmpl.data()) != nullptr);
    path = tmpl;
  }
  ~TempDir() { fs::remove_all(path); }
  std::string Write(const std::string& name, const std::string& content) const {
    const auto file = path / name;
    std::ofstream(file) << content;
    return file.string();
  }
  fs::path path;
};

// A transport that records the call and answers with `reply`.
struct FakeTransport {
  Result<HttpReply> reply = HttpReply{200, "application/json", "{}"};
  std::vector<HttpCall> calls;
  Transport AsTransport() {
    return [this](const HttpCall& call) -> Result<HttpReply> {
      calls.push_back(call);
      return reply;
    };
  }
};

HttpReply Reply(int status, std::string body) {
  return HttpReply{status, "application/json", std::move(body)};
}

}  // namespace

TEST_CASE("cli client: the controller URL comes from the flag, else the env, else default",
          "[cli]") {
  const std::string no_file = "/nonexistent/admin.token";
  GlobalOptions flags;
  CHECK(ResolveEndpoint(flags, FakeEnv({}), no_file)->url == "https://127.0.0.1:8080");
  CHECK(ResolveEndpoint(flags, FakeEnv({{"AUTOVIBE_CONTROLLER", ""}}), no_file)->url ==
        "https://127.0.0.1:8080");
  CHECK(ResolveEndpoint(flags, FakeEnv({{"AUTOVIBE_CONTROLLER", "http://env:1"}}), no_file)->url ==
        "http://env:1");
  flags.controller = "http://flag:2/";
  CHECK(ResolveEndpoint(flags, FakeEnv({{"AUTOVIBE_CONTROLLER", "http://env:1"}}), no_file)->url ==
        "http://flag:2");
}

TEST_CASE("cli client: the token comes from the flag, env, token file, local controller", "[cli]") {
  TempDir dir;
  const std::string env_file = dir.Write("env.token", "  from-env-file \nsecond line\n");
  const std::string local_file = dir.Write("admin.token", "from-local\n");
  const std::string missing = (dir.path / "missing").string();
  GlobalOptions flags;

  CHECK(ResolveEndpoint(flags, FakeEnv({}), missing)->token.empty());
  CHECK(ResolveEndpoint(flags, FakeEnv({}), local_file)->token == "from-local");
  CHECK(ResolveEndpoint(flags, FakeEnv({{"AUTOVIBE_TOKEN_FILE", env_file}}), local_file)->token ==
        "from-env-file");
  CHECK(ResolveEndpoint(
            flags, FakeEnv({{"AUTOVIBE_TOKEN", "from-env"}, {"AUTOVIBE_TOKEN_FILE", env_file}}),
            local_file)
            ->token == "from-env");
  flags.token = "from-flag";
  CHECK(ResolveEndpoint(flags, FakeEnv({{"AUTOVIBE_TOKEN", "from-env"}}), local_file)->token ==
        "from-flag");
}

TEST_CASE("cli client: an unreadable AUTOVIBE_TOKEN_FILE is an error, not silence", "[cli]") {
  auto r = ResolveEndpoint(GlobalOptions{}, FakeEnv({{"AUTOVIBE_TOKEN_FILE", "/nonexistent/t"}}),
                           "/nonexistent/admin.token");
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().exit_code == 2);
  CHECK_THAT(r.error().message, Catch::Contains("/nonexistent/t"));
}

TEST_CASE("cli client: a call sends method, URL and bearer token and parses the body", "[cli]") {
  FakeTransport fake;
  fake.reply = Reply(200, R"({"machines":[{"id":"m-1"}]})");
  Client client(Endpoint{"http://c:9", "s3cret"}, fake.AsTransport());
  auto body = client.Call("GET", "/v1/machines");
  REQUIRE(body);
  CHECK(body->at("machines").at(0).at("id") == "m-1");
  REQUIRE(fake.calls.size() == 1);
  CHECK(fake.calls[0].method == "GET");
  CHECK(fake.calls[0].url == "http://c:9/v1/machines");
  CHECK(fake.calls[0].bearer_token == "s3cret");
}

TEST_CASE("cli client: failures map to the documented exit codes and messages", "[cli]") {
  FakeTransport fake;
  Client client(Endpoint{"http://c:9", ""}, fake.AsTransport());
  struct Case {
    Result<HttpReply> reply;
    int exit_code;
    std::string message;
  };
  const std::vector<Case> cases = {
      {MakeError(ErrorCode::kUnavailable, "cannot connect to c:9: Connection refused"), 5,
       "cannot reach the controller at http://c:9: cannot connect to c:9: Connection refused (is "
       "it running? set --controller or AUTOVIBE_CONTROLLER)"},
      {MakeError(ErrorCode::kIo, "talking to c:9: end of stream"), 5,
       "cannot reach the controller at http://c:9: talking to c:9: end of stream"},
      {MakeError(ErrorCode::kBadUrl, "not an http:// URL"), 2, "is not an https:// or http:// URL"},
      {MakeError(ErrorCode::kTls,
                 "the certificate of c:9 has SHA-256 fingerprint AA, not the "
                 "pinned BB"),
       1,
       "refusing the controller at http://c:9: the certificate of c:9 has SHA-256 fingerprint AA, "
       "not the pinned BB (trust it with --ca FILE or AUTOVIBE_CA, or with --pin SHA256 or "
       "AUTOVIBE_PIN for a self-signed one)"},
      {Reply(401, R"({"error":{"code":"unauthorized","message":"bad token"}})"), 3,
       "the controller refused the token (401): bad token; set --token or AUTOVIBE_TOKEN"},
      {Reply(404, R"({"error":{"code":"not_found","message":"no machine m-9"}})"), 4,
       "no machine m-9"},
      {Reply(404, "404 page not found"), 4, "not found (404): GET /v1/machines/m-9"},
      {Reply(409, R"({"error":{"code":"conflict","message":"machine is draining"}})"), 1,
       "409 conflict: machine is draining"},
      {Reply(502, "<html>Bad Gateway</html>"), 1, "502: <html>Bad Gateway</html>"},
      {Reply(200, "<html>not json</html>"), 1, "not JSON"},
  };
  for (const auto& c : cases) {
    fake.reply = c.reply;
    auto body = client.Call("GET", "/v1/machines/m-9");
    REQUIRE_FALSE(body);
    INFO(body.error().message);
    CHECK(body.error().exit_code == c.exit_code);
    CHECK_THAT(body.error().message, Catch::Contains(c.message));
  }
}

TEST_CASE("cli client: an empty 2xx body is JSON null", "[cli]") {
  FakeTransport fake;
  fake.reply = Reply(204, "");
  auto body = Client(Endpoint{"http://c:9", ""}, fake.AsTransport()).Call("POST", "/v1/x");
  REQUIRE(body);
  CHECK(body->is_null());
}

TEST_CASE("cli client: path segments are percent-encoded", "[cli]") {
  CHECK(PathSegment("m-1_a.b~") == "m-1_a.b~");
  CHECK(PathSegment("a b/c?d") == "a%20b%2Fc%3Fd");
}

}  // namespace autovibe::cli

namespace autovibe::cli {
namespace {

TEST_CASE("cli client: the controller is trusted by pin, else CA file, else a local one's own",
          "[cli]") {
  TempDir dir;
  const std::string token_file = dir.Write("admin.token", "t0k3n-of-the-local-controller\n");
  const std::string local_cert = dir.Write("tls-cert.pem", "PEM");
  const std::string pin(64, 'a');
  const std::string canonical = NormalizeFingerprint(pin).value();
  GlobalOptions flags;
  auto resolve = [&](std::map<std::string, std::string> env) {
    return ResolveEndpoint(flags, FakeEnv(std::move(env)), token_file);
  };
  // A controller on this host: its own certificate beside its token.
  CHECK(resolve({})->ca_file == local_cert);
  CHECK(resolve({{"AUTOVIBE_CONTROLLER", "https://localhost:9"}})->ca_file == local_cert);
  // Another host: the system's CAs.
  CHECK(resolve({{"AUTOVIBE_CONTROLLER", "https://ctl.example.com"}})->ca_file.empty());
  CHECK(resolve({{"AUTOVIBE_CA", "/etc/ca.pem"}})->ca_file == "/etc/ca.pem");
  auto pinned = resolve({{"AUTOVIBE_CA", "/etc/ca.pem"}, {"AUTOVIBE_PIN", pin}});
  CHECK(pinned->pin == canonical);
  CHECK(pinned->ca_file.empty());
  flags.ca = "/flag/ca.pem";
  CHECK(resolve({{"AUTOVIBE_CA", "/etc/ca.pem"}})->ca_file == "/flag/ca.pem");
  flags.pin = "12:34";
  auto bad = resolve({});
  REQUIRE_FALSE(bad.has_value());
  CHECK(bad.error().exit_code == kExitUsage);
  CHECK_THAT(bad.error().message, Catch::Contains("--pin") && Catch::Contains("64 hex digits"));

  // What was resolved goes with every call.
  FakeTransport fake;
  fake.reply = Reply(200, "{}");
  Client client(Endpoint{"https://c:9", "", "/x/ca.pem", canonical}, fake.AsTransport());
  REQUIRE(client.Call("GET", "/v1/machines").has_value());
  CHECK(fake.calls[0].ca_file == "/x/ca.pem");
  CHECK(fake.calls[0].pin_sha256 == canonical);
}

}  // namespace
}  // namespace autovibe::cli
