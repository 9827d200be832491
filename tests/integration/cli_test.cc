// The real autovibe binary against a real controller: what a user types, what a script reads.
#include <boost/json.hpp>
#include <catch2/catch.hpp>

#include "tests/support/fleet_harness.h"
#include "tests/support/nats_server.h"

using namespace autovibe::testing;
using namespace std::chrono_literals;

namespace {

struct CliRun {
  int exit_code;
  std::string output;  // stdout and stderr together
};

CliRun RunCli(const TempDir& dir, std::vector<std::string> args) {
  static int n = 0;
  args.insert(args.begin(), BinPath("autovibe"));
  ChildProcess p(args, dir / ("cli-" + std::to_string(++n) + ".out"));
  int code = p.Wait(15s);
  return {code, p.Log()};
}

}  // namespace

TEST_CASE("the CLI lists and shows machines, in tables and JSON, with global options anywhere") {
  TempDir dir;
  NatsServer nats(dir / "nats");
  ControllerProcess controller(dir / "controller", nats.url());
  AgentProcess agent("cli-worker", dir / "cli-worker", nats.url(), {"--label", "team=core"});
  REQUIRE(WaitUntil([&] { return controller.MachineByName("cli-worker").has_value(); }, 15s));
  const std::string url = controller.base_url();
  const std::string token = controller.token();
  const std::string id(controller.MachineByName("cli-worker")->at("id").as_string());

  auto table = RunCli(dir, {"--controller", url, "--token", token, "machines", "list"});
  REQUIRE(table.exit_code == 0);
  CHECK(table.output.find("NAME") != std::string::npos);
  CHECK(table.output.find("cli-worker") != std::string::npos);
  CHECK(table.output.find("team=core") != std::string::npos);

  // --json after the command words, and the controller flag at the end.
  auto json = RunCli(dir, {"machines", "list", "--json", "--token", token, "--controller", url});
  REQUIRE(json.exit_code == 0);
  auto parsed = boost::json::parse(json.output);
  CHECK(parsed.at("machines").at(0).at("id").as_string() == id);

  auto show =
      RunCli(dir, {"--json", "machines", "show", id, "--controller", url, "--token", token});
  REQUIRE(show.exit_code == 0);
  CHECK(boost::json::parse(show.output).at("name").as_string() == "cli-worker");
}

TEST_CASE("the CLI says clearly what went wrong, with distinct exit codes") {
  TempDir dir;
  NatsServer nats(dir / "nats");
  ControllerProcess controller(dir / "controller", nats.url());
  const std::string url = controller.base_url();

  auto bad_token = RunCli(dir, {"--controller", url, "--token", "wrong", "machines", "list"});
  CHECK(bad_token.exit_code == 3);
  CHECK(bad_token.output.find("refused the token") != std::string::npos);

  auto missing = RunCli(dir, {"--controller", url, "--token", controller.token(), "machines",
                              "show", "m-000000000000"});
  CHECK(missing.exit_code == 4);

  auto down = RunCli(dir, {"--controller", "http://127.0.0.1:" + std::to_string(FreePort()),
                           "--token", "x", "machines", "list"});
  CHECK(down.exit_code == 5);
  CHECK(down.output.find("cannot reach the controller") != std::string::npos);

  auto usage = RunCli(dir, {"machines", "lst"});
  CHECK(usage.exit_code == 2);
}
