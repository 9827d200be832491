// `autovibe secret ...` from the command line to the request sent and the output printed,
// against a fake controller.
#include <boost/json/parse.hpp>
#include <catch2/catch.hpp>
#include <fstream>
#include <iostream>
#include <sstream>

#include "cli/secret_cmd.h"
#include "tests/support/process.h"
#include "tests/unit/cli_fake_controller.h"

namespace autovibe::cli {
namespace {

using namespace testing;
using autovibe::testing::TempDir;

const char* kMade = R"({"name":"gh","size":11,"created_at":"2026-11-22T01:38:42.123Z",)"
                    R"("updated_at":"2026-11-22T01:38:42.123Z"})";

std::string WriteFile(const TempDir& dir, const std::string& content) {
  const std::string path = dir / "value";
  std::ofstream(path, std::ios::binary) << content;
  return path;
}

// Stands `text` in for standard input while it lives.
class FakeStdin {
 public:
  explicit FakeStdin(std::string text) : in_(std::move(text)), saved_(std::cin.rdbuf()) {
    std::cin.rdbuf(in_.rdbuf());
  }
  ~FakeStdin() { std::cin.rdbuf(saved_); }

 private:
  std::istringstream in_;
  std::streambuf* saved_;
};

}  // namespace

TEST_CASE("cli secret set: sends the file's bytes as they are and prints the name", "[cli]") {
  TempDir dir{"av-cli-secret"};
  FakeController ctl;
  ctl.On("PUT /v1/secrets/gh", JsonReply(201, kMade));
  Outcome o = RunCli(ctl, {"secret", "set", "gh", "--from-file", WriteFile(dir, "ghp_token\n")});
  CHECK(o.exit_code == 0);
  CHECK(o.out == "gh\n");
  CHECK(o.err.empty());
  REQUIRE(ctl.bodies().size() == 1);
  CHECK(boost::json::parse(ctl.bodies()[0]) == boost::json::parse(R"({"value":"ghp_token\n"})"));

  Outcome json =
      RunCli(ctl, {"--json", "secret", "set", "gh", "--from-file", WriteFile(dir, "ghp_token")});
  CHECK(boost::json::parse(json.out) == boost::json::parse(kMade));
}

TEST_CASE("cli secret set --from-file -: the value from standard input", "[cli]") {
  FakeController ctl;
  ctl.On("PUT /v1/secrets/deploy-key", JsonReply(200, R"({"name":"deploy-key","size":5})"));
  FakeStdin in("s3cr3");
  Outcome o = RunCli(ctl, {"secret", "set", "deploy-key", "--from-file", "-"});
  CHECK(o.exit_code == 0);
  CHECK(o.out == "deploy-key\n");
  REQUIRE(ctl.bodies().size() == 1);
  CHECK(boost::json::parse(ctl.bodies()[0]) == boost::json::parse(R"({"value":"s3cr3"})"));
}

TEST_CASE("cli secret set: a missing, oversized or binary file is refused before sending",
          "[cli]") {
  TempDir dir{"av-cli-secret"};
  FakeController ctl;
  Outcome missing = RunCli(ctl, {"secret", "set", "gh", "--from-file", dir / "nope"});
  CHECK(missing.exit_code == kExitUsage);
  CHECK_THAT(missing.err, Catch::Contains("cannot read") && Catch::Contains("nope"));

  Outcome big =
      RunCli(ctl, {"secret", "set", "gh", "--from-file", WriteFile(dir, std::string(65537, 'x'))});
  CHECK(big.exit_code == kExitUsage);
  CHECK_THAT(big.err, Catch::Contains("64 KiB"));

  Outcome binary = RunCli(
      ctl, {"secret", "set", "gh", "--from-file", WriteFile(dir, std::string("\xff\xfe\0", 3))});
  CHECK(binary.exit_code == kExitUsage);
  CHECK_THAT(binary.err, Catch::Contains("not UTF-8"));

  Outcome no_file = RunCli(ctl, {"secret", "set", "gh"});
  CHECK(no_file.exit_code == kExitUsage);
  CHECK(ctl.requests().empty());
}

TEST_CASE("cli secret set: the controller's refusal is told", "[cli]") {
  TempDir dir{"av-cli-secret"};
  FakeController ctl;
  ctl.On("PUT /v1/secrets/.bad",
         ApiError(400, "bad_request", "a secret name is 1-64 characters of A-Z a-z 0-9 . _ -"));
  Outcome o = RunCli(ctl, {"secret", "set", ".bad", "--from-file", WriteFile(dir, "v")});
  CHECK(o.exit_code == kExitFailure);
  CHECK_THAT(o.err, Catch::StartsWith("autovibe: 400 bad_request: a secret name is"));
}

TEST_CASE("cli secret list: names, sizes and ages, --json is the API's", "[cli]") {
  FakeController ctl;
  const std::string list = std::string(R"({"secrets":[)") + kMade +
                           R"(,{"name":"deploy-key","size":2048,)"
                           R"("created_at":"2026-11-20T01:39:42.123Z",)"
                           R"("updated_at":"2026-11-22T01:39:40.123Z"}]})";
  ctl.On("GET /v1/secrets", JsonReply(200, list));
  Outcome o = RunCli(ctl, {"secret", "list"});
  CHECK(o.exit_code == 0);
  CHECK(o.out ==
        "NAME        SIZE  CREATED  UPDATED\n"
        "gh          11B   1m       1m\n"
        "deploy-key  2.0K  2d       2s\n");
  CHECK(boost::json::parse(RunCli(ctl, {"secret", "list", "--json"}).out) ==
        boost::json::parse(list));

  FakeController empty;
  empty.On("GET /v1/secrets", JsonReply(200, R"({"secrets":[]})"));
  CHECK(RunCli(empty, {"secret", "list"}).out == "no secrets\n");
}

TEST_CASE("cli secret delete: says what it deleted, an unknown name exits 4", "[cli]") {
  FakeController ctl;
  ctl.On("DELETE /v1/secrets/gh", JsonReply(200, R"({"deleted":"gh"})"));
  Outcome o = RunCli(ctl, {"secret", "delete", "gh"});
  CHECK(o.exit_code == 0);
  CHECK(o.out == "deleted secret gh\n");
  Outcome unknown = RunCli(ctl, {"secret", "delete", "nope"});
  CHECK(unknown.exit_code == kExitNotFound);
  CHECK(ctl.requests().back() == "DELETE /v1/secrets/nope");
}

}  // namespace autovibe::cli
