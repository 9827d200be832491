// `autovibe token ...` from the command line to the request sent and the output printed,
// against a fake controller.
#include <boost/json/parse.hpp>
#include <catch2/catch.hpp>

#include "cli/token_cmd.h"
#include "tests/unit/cli_fake_controller.h"

namespace autovibe::cli {
namespace {

using namespace testing;

const char* kMade =
    R"({"name":"ci","role":"operator","projects":["alpha","beta"],"created_at":"2026-11-22T01:38:42.123Z",)"
    R"("expires_at":"2026-12-22T01:38:42.123Z","last_used_at":null,"expired":false,)"
    R"("token":"avt_00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"})";

}  // namespace

TEST_CASE("cli token create: sends role, projects and expiry, prints the secret alone", "[cli]") {
  FakeController ctl;
  ctl.On("POST /v1/tokens", JsonReply(201, kMade));
  Outcome o = RunCli(ctl, {"token", "create", "ci", "--role", "operator", "--project", "alpha",
                           "--project", "beta", "--expires", "30d"});
  CHECK(o.exit_code == 0);
  CHECK(o.out == "avt_00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\n");
  CHECK_THAT(o.err, Catch::Contains("AUTOVIBE_TOKEN") && Catch::Contains("once"));
  REQUIRE(ctl.bodies().size() == 1);
  CHECK(boost::json::parse(ctl.bodies()[0]) ==
        boost::json::parse(
            R"({"name":"ci","role":"operator","projects":["alpha","beta"],"expires":"30d"})"));

  Outcome json = RunCli(ctl, {"--json", "token", "create", "ci", "--role", "operator"});
  CHECK(json.exit_code == 0);
  CHECK(boost::json::parse(json.out) == boost::json::parse(kMade));
  CHECK(boost::json::parse(ctl.bodies()[1]) ==
        boost::json::parse(R"({"name":"ci","role":"operator"})"));
}

TEST_CASE("cli token create: a bad role or expiry is refused before sending", "[cli]") {
  FakeController ctl;
  Outcome role = RunCli(ctl, {"token", "create", "ci", "--role", "root"});
  CHECK(role.exit_code == kExitUsage);
  Outcome missing = RunCli(ctl, {"token", "create", "ci"});
  CHECK(missing.exit_code == kExitUsage);
  Outcome expires = RunCli(ctl, {"token", "create", "ci", "--role", "viewer", "--expires", "30"});
  CHECK(expires.exit_code == kExitUsage);
  CHECK_THAT(expires.err, Catch::Contains("--expires"));
  CHECK(ctl.bodies().empty());
}

TEST_CASE("cli token list and revoke", "[cli]") {
  FakeController ctl;
  ctl.On("GET /v1/tokens",
         JsonReply(200, R"({"tokens":[{"name":"ci","role":"viewer","projects":[],)"
                        R"("created_at":"2026-11-22T01:38:42.123Z","expires_at":null,)"
                        R"("last_used_at":null,"expired":false},)"
                        R"({"name":"old","role":"operator","projects":["alpha"],)"
                        R"("created_at":"2026-11-22T01:38:42.123Z",)"
                        R"("expires_at":"2026-11-23T01:38:42.123Z","last_used_at":null,)"
                        R"("expired":true}]})"));
  Outcome list = RunCli(ctl, {"token", "list"});
  CHECK(list.exit_code == 0);
  CHECK_THAT(list.out,
             Catch::Contains("NAME") && Catch::Contains("ROLE") && Catch::Contains("PROJECTS"));
  CHECK_THAT(list.out, Catch::Contains("ci") && Catch::Contains("all"));
  CHECK_THAT(list.out, Catch::Contains("alpha") && Catch::Contains("(expired)"));
  ctl.On("DELETE /v1/tokens/ci", JsonReply(200, R"({"revoked":"ci"})"));
  Outcome revoked = RunCli(ctl, {"token", "revoke", "ci"});
  CHECK(revoked.exit_code == 0);
  CHECK(revoked.out == "revoked token ci\n");
  ctl.On("DELETE /v1/tokens/nope",
         JsonReply(404, R"({"error":{"code":"not_found","message":"no token named nope"}})"));
  Outcome none = RunCli(ctl, {"token", "revoke", "nope"});
  CHECK(none.exit_code == kExitNotFound);
}

}  // namespace autovibe::cli
