// Secrets from a user's command line into the real controller, and the fake forge as a program:
// the value reaches the controller's private files and nothing else a user or a log can see.
#include <sys/stat.h>

#include <boost/json.hpp>
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

#include "controller/publish/forge.h"
#include "controller/publish/retry.h"
#include "tests/support/catch_result.h"
#include "tests/support/fleet_harness.h"
#include "tests/support/nats_server.h"

using namespace autovibe;
using namespace autovibe::testing;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

constexpr const char* kValue = "ghp_IntegrationSecret_7f3a";

struct Run {
  int exit_code;
  std::string output;  // stdout and stderr together
};

Run Cli(const TempDir& dir, const ControllerProcess& c, const std::string& args) {
  static int n = 0;
  const std::string line =
      BinPath("autovibe") + " --controller " + c.base_url() + " --token " + c.token() + " " + args;
  ChildProcess p({"/bin/sh", "-c", line}, dir / ("cli-" + std::to_string(++n) + ".out"));
  const int code = p.Wait(15s);
  return {code, p.Log()};
}

mode_t ModeOf(const std::string& path) {
  struct stat st {};
  REQUIRE(::lstat(path.c_str(), &st) == 0);
  return st.st_mode & 07777;
}

// Every file under `dir` but `skip` whose bytes hold `needle`.
std::vector<std::string> FilesHolding(const std::string& dir, const std::string& needle,
                                      const std::string& skip) {
  std::vector<std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (!e.is_regular_file() || e.path().string().starts_with(skip)) continue;
    std::ifstream in(e.path(), std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(in)), {});
    if (bytes.find(needle) != std::string::npos) out.push_back(e.path().string());
  }
  return out;
}

}  // namespace

TEST_CASE("autovibe secret set, list and delete against the controller, the value stays private",
          "[secrets]") {
  TempDir dir;
  NatsServer nats(dir / "nats");
  const std::string data = dir / "controller";
  ControllerProcess controller(data, nats.url(), {"--log-level", "trace"});
  std::ofstream(dir / "token.txt") << kValue << "\n";

  Run set = Cli(dir, controller, "secret set gh --from-file " + (dir / "token.txt"));
  INFO(set.output);
  REQUIRE(set.exit_code == 0);
  CHECK(set.output == "gh\n");
  Run from_stdin = Cli(dir, controller, "secret set deploy --from-file - < " + (dir / "token.txt"));
  REQUIRE(from_stdin.exit_code == 0);

  Run list = Cli(dir, controller, "secret list");
  CHECK_THAT(list.output, Catch::Contains("gh") && Catch::Contains("deploy") &&
                              Catch::Contains("NAME") && Catch::Contains("27B"));
  Run json = Cli(dir, controller, "--json secret list");
  REQUIRE(json.exit_code == 0);
  CHECK(boost::json::parse(json.output).at("secrets").as_array().size() == 2);

  // No read of the API gives the value back; a bad request does not echo it.
  CHECK(controller.Call("GET", "/v1/secrets/gh")->status == 405);
  auto bad =
      controller.Call("PUT", "/v1/secrets/gh", std::nullopt, std::string("{\"value\":\"") + kValue);
  CHECK(bad->status == 400);
  CHECK_THAT(bad->body, !Catch::Contains(kValue));
  for (const Run& r : {set, from_stdin, list, json}) CHECK_THAT(r.output, !Catch::Contains(kValue));

  // Kept where only root reads it, and nowhere else in the data dir.
  CHECK(ModeOf(data + "/secrets") == 0700);
  CHECK(ModeOf(data + "/secrets/gh") == 0600);
  CHECK(FilesHolding(data, kValue, data + "/secrets/").empty());
  CHECK(FilesHolding(data + "/secrets", kValue, "~").size() == 2);

  Run deleted = Cli(dir, controller, "secret delete gh");
  CHECK(deleted.exit_code == 0);
  CHECK(Cli(dir, controller, "secret delete gh").exit_code == 4);
  CHECK_FALSE(fs::exists(data + "/secrets/gh"));

  // A restart finds what is left.
  controller.process().Signal(SIGTERM);
  REQUIRE(controller.process().Wait(15s) == 0);
  const std::string log = controller.process().Log();
  CHECK_THAT(log, Catch::Contains("secret created name=gh"));
  CHECK_THAT(log, !Catch::Contains(kValue));
  controller.Start();
  Run after = Cli(dir, controller, "secret list");
  CHECK_THAT(after.output, Catch::Contains("deploy") && !Catch::Contains("gh "));
  CHECK_THAT(controller.process().Log(), !Catch::Contains(kValue));
}

TEST_CASE("fake-forge as a program: the forge client opens a pull request through 502s",
          "[secrets]") {
  TempDir dir;
  ChildProcess fake({BinPath("fake-forge"), "--token", "tok-1", "--repo", "octo/widgets"},
                    dir / "fake-forge.out");
  std::string url;
  REQUIRE(WaitUntil(
      [&] {
        const std::string out = fake.Log();
        if (out.find('\n') == std::string::npos) return false;
        url = out.substr(0, out.find('\n'));
        return true;
      },
      10s));
  REQUIRE(SendHttp({.method = "POST", .url = url + "/__fail?count=2&status=502"})->status == 200);

  auto forge = MakeHttpForge();
  PullRequestSpec spec{.api_base = url,
                       .owner = "octo",
                       .repo = "widgets",
                       .token = "tok-1",
                       .head = "autovibe/t-1",
                       .base = "main",
                       .title = "Fix it",
                       .body = "body"};
  int waits = 0;
  auto outcome = OpenPullRequestWithRetries(*forge, spec, RetryPolicy{}, [&](auto) { ++waits; });
  REQUIRE(outcome.result);
  CHECK(outcome.attempts == 3);
  CHECK(waits == 2);
  CHECK(outcome.result->url == url + "/octo/widgets/pull/1");
  auto listed = SendHttp({.url = url + "/__pulls"});
  REQUIRE(listed);
  CHECK(boost::json::parse(listed->body).as_array().size() == 1);

  fake.Signal(SIGTERM);
  CHECK(fake.Wait(10s) == 0);
  CHECK_THAT(fake.Log(), Catch::Contains("octo/widgets#1 octo:autovibe/t-1 -> main"));
}
