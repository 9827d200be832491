// The command line: global options anywhere, usage errors, help.
#include <catch2/catch.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "cli/app.h"

namespace autovibe::cli {
namespace {

struct Parsed {
  Invocation inv;
  std::optional<int> exit_code;  // set when parsing ended the program
  std::string out;
  std::string err;
};

// Parses `autovibe <args...>`.
Parsed Parse(std::vector<std::string> args) {
  Parsed p;
  auto app = BuildApp(p.inv);
  std::ostringstream out, err;
  p.exit_code = ParseCommandLine(*app, std::move(args), out, err);
  p.out = out.str();
  p.err = err.str();
  return p;
}

}  // namespace

TEST_CASE("cli app: global options may stand before or after the command", "[cli]") {
  const std::vector<std::vector<std::string>> lines = {
      {"--json", "--controller", "http://c:1", "--token", "t0k", "machines", "list"},
      {"machines", "list", "--json", "--controller", "http://c:1", "--token", "t0k"},
      {"machines", "--json", "list", "--token=t0k", "--controller=http://c:1"},
      {"--token", "t0k", "machines", "list", "--controller", "http://c:1", "--json"},
  };
  for (const auto& line : lines) {
    INFO("argv: " << Catch::Detail::stringify(line));
    Parsed p = Parse(line);
    REQUIRE_FALSE(p.exit_code);
    CHECK(p.err.empty());
    CHECK(p.inv.command == "machines list");
    CHECK(p.inv.action);
    CHECK(p.inv.options.json);
    CHECK(p.inv.options.controller == "http://c:1");
    CHECK(p.inv.options.token == "t0k");
  }
}

TEST_CASE("cli app: options default to unset", "[cli]") {
  Parsed p = Parse({"machines", "list"});
  REQUIRE_FALSE(p.exit_code);
  CHECK_FALSE(p.inv.options.json);
  CHECK(p.inv.options.controller.empty());
  CHECK(p.inv.options.token.empty());
}

TEST_CASE("cli app: machines show takes the id, with options on either side", "[cli]") {
  for (const auto& line : std::vector<std::vector<std::string>>{
           {"machines", "show", "m-42", "--json"}, {"--json", "machines", "show", "m-42"}}) {
    Parsed p = Parse(line);
    REQUIRE_FALSE(p.exit_code);
    CHECK(p.inv.command == "machines show");
    CHECK(p.inv.options.json);
  }
}

TEST_CASE("cli app: usage errors end with exit code 2 and one message", "[cli]") {
  struct Case {
    std::vector<std::string> args;
    std::string says;
  };
  const std::vector<Case> cases = {
      {{}, "missing command after \"autovibe\" (one of: machines"},
      {{"frobnicate"}, "unknown command \"frobnicate\" (one of: machines"},
      {{"machines"},
       "missing command after \"autovibe machines\" (one of: list, show, spawn, drain, terminate, "
       "pools, join-token)"},
      {{"machines", "lst"}, "unknown command \"lst\" after \"autovibe machines\""},
      {{"machines", "show"}, "ID is required"},
      {{"machines", "show", "a", "b"}, "not expected: b"},
      {{"machines", "list", "--bogus"}, "--bogus"},
      {{"machines", "list", "--controller"}, "--controller"},
  };
  for (const auto& c : cases) {
    INFO("argv: " << Catch::Detail::stringify(c.args));
    Parsed p = Parse(c.args);
    CHECK(p.exit_code == 2);
    CHECK_THAT(p.err, Catch::Contains(c.says));
    CHECK_THAT(p.err, Catch::StartsWith("autovibe: "));
    CHECK(p.out.empty());
    CHECK_FALSE(p.inv.action);
  }
}

TEST_CASE("cli app: --help documents every global option and exits 0", "[cli]") {
  Parsed p = Parse({"--help"});
  CHECK(p.exit_code == 0);
  for (const char* text : {"--controller", "AUTOVIBE_CONTROLLER", "--token", "AUTOVIBE_TOKEN",
                           "AUTOVIBE_TOKEN_FILE", "--json", "machines"}) {
    CHECK_THAT(p.out, Catch::Contains(text));
  }
}

TEST_CASE("cli app: --help of a verb shows its arguments and points to the globals", "[cli]") {
  Parsed p = Parse({"machines", "show", "--help"});
  CHECK(p.exit_code == 0);
  CHECK_THAT(p.out, Catch::Contains("ID"));
  CHECK_THAT(p.out, Catch::Contains("--controller URL, --token T, --ca") &&
                        Catch::Contains("--pin SHA256, --json"));
}

}  // namespace autovibe::cli
