// `autovibe machines ...` from the command line to the printed output, against a fake transport.
#include <boost/json/parse.hpp>
#include <catch2/catch.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "cli/app.h"
#include "cli/machines_cmd.h"

namespace autovibe::cli {
namespace {

// 2026-11-22T01:39:42.123Z
constexpr int64_t kNowMs = 1795311582123;

const char* kMachine = R"({
  "id": "m-1a2b", "name": "worker-1", "backend": "local", "state": "ready",
  "labels": {"pool": "local", "gpu": "none"}, "tools": ["claude", "aider"],
  "resources": {"cpu_cores": 2, "mem_total_bytes": 25125558272, "mem_used_bytes": 3328599654,
                "disk_total_bytes": 42949672960, "disk_free_bytes": 10952166604, "load1": 0.42},
  "agent_version": "0.1.0", "last_heartbeat_at": "2026-11-22T01:39:41.000Z",
  "registered_at": "2026-11-21T22:39:42.123Z"})";

const char* kNewMachine = R"({
  "id": "m-9", "name": "w2", "backend": "docker", "state": "provisioning", "labels": {},
  "tools": [], "resources": {}, "agent_version": "", "last_heartbeat_at": "",
  "registered_at": ""})";

struct Outcome {
  int exit_code = -1;
  std::string out;
  std::string err;
  std::vector<HttpCall> calls;
};

// Runs `autovibe <args...>` with the controller answering every request with `reply`.
Outcome RunCli(std::vector<std::string> args, HttpReply reply) {
  Outcome o;
  Invocation inv;
  auto app = BuildApp(inv);
  std::ostringstream out, err;
  const auto usage_exit = ParseCommandLine(*app, std::move(args), out, err);
  REQUIRE_FALSE(usage_exit.has_value());
  Client client(Endpoint{"http://ctl:8080", "tok"}, [&](const HttpCall& call) -> Result<HttpReply> {
    o.calls.push_back(call);
    return reply;
  });
  o.exit_code = RunCommand(inv, client, kNowMs, out, err);
  o.out = out.str();
  o.err = err.str();
  return o;
}

HttpReply Ok(std::string body) { return HttpReply{200, "application/json", std::move(body)}; }

std::string MachineList() {
  return std::string(R"({"machines":[)") + kMachine + "," + kNewMachine + "]}";
}

}  // namespace

TEST_CASE("cli machines list: an aligned table of every machine", "[cli]") {
  Outcome o = RunCli({"machines", "list"}, Ok(MachineList()));
  CHECK(o.exit_code == 0);
  CHECK(o.err.empty());
  REQUIRE(o.calls.size() == 1);
  CHECK(o.calls[0].method == "GET");
  CHECK(o.calls[0].url == "http://ctl:8080/v1/machines");
  CHECK(o.out ==
        "ID      NAME      STATE         BACKEND  CPUS  MEM         DISK FREE  LOAD  TOOLS         "
        "LABELS               LAST HEARTBEAT\n"
        "m-1a2b  worker-1  ready         local    2     3.1G/23.4G  10.2G      0.42  claude,aider  "
        "pool=local,gpu=none  1s ago\n"
        "m-9     w2        provisioning  docker   -     -           -          -     -             "
        "-                    -\n");
}

TEST_CASE("cli machines list: says so when there are none", "[cli]") {
  Outcome o = RunCli({"machines", "list"}, Ok(R"({"machines":[]})"));
  CHECK(o.exit_code == 0);
  CHECK(o.out == "no machines\n");
}

TEST_CASE("cli machines list --json: the API's JSON, wherever --json stands", "[cli]") {
  for (const auto& args : std::vector<std::vector<std::string>>{{"--json", "machines", "list"},
                                                                {"machines", "list", "--json"}}) {
    Outcome o = RunCli(args, Ok(MachineList()));
    CHECK(o.exit_code == 0);
    CHECK(boost::json::parse(o.out) == boost::json::parse(MachineList()));
    CHECK_THAT(o.out, Catch::Contains("\"load1\": 0.42"));
  }
}

TEST_CASE("cli machines list: an answer without a machines list is an error", "[cli]") {
  Outcome o = RunCli({"machines", "list"}, Ok(R"({"items":[]})"));
  CHECK(o.exit_code == 1);
  CHECK_THAT(o.err, Catch::StartsWith("autovibe: unexpected answer"));
}

TEST_CASE("cli machines show: every field as aligned key: value lines", "[cli]") {
  Outcome o = RunCli({"machines", "show", "m-1a2b"}, Ok(kMachine));
  CHECK(o.exit_code == 0);
  REQUIRE(o.calls.size() == 1);
  CHECK(o.calls[0].url == "http://ctl:8080/v1/machines/m-1a2b");
  CHECK(o.out ==
        "id:             m-1a2b\n"
        "name:           worker-1\n"
        "state:          ready\n"
        "backend:        local\n"
        "labels:         pool=local,gpu=none\n"
        "tools:          claude,aider\n"
        "cpus:           2\n"
        "memory:         3.1G used of 23.4G\n"
        "disk:           10.2G free of 40.0G\n"
        "load:           0.42\n"
        "agent version:  0.1.0\n"
        "last heartbeat: 2026-11-22T01:39:41.000Z (1s ago)\n"
        "registered:     2026-11-21T22:39:42.123Z (3h ago)\n");
}

TEST_CASE("cli machines show: fields a newer controller adds still show", "[cli]") {
  auto m = boost::json::parse(kMachine).as_object();
  m["zone"] = "eu-1";
  m["resources"].as_object()["gpus"] = 1;
  const KeyValues lines = MachineDetails(m, kNowMs);
  CHECK(lines.back() == KeyValues::value_type{"zone", "eu-1"});
  CHECK(lines[lines.size() - 2] == KeyValues::value_type{"resources.gpus", "1"});
}

TEST_CASE("cli machines show: the id is one encoded path segment", "[cli]") {
  Outcome o = RunCli({"machines", "show", "../admin"}, Ok(kMachine));
  REQUIRE(o.calls.size() == 1);
  CHECK(o.calls[0].url == "http://ctl:8080/v1/machines/..%2Fadmin");
}

TEST_CASE("cli machines show: an unknown id exits 4 with the controller's message", "[cli]") {
  Outcome o = RunCli({"machines", "show", "m-404"},
                     HttpReply{404, "application/json",
                               R"({"error":{"code":"not_found","message":"no machine m-404"}})"});
  CHECK(o.exit_code == 4);
  CHECK(o.out.empty());
  CHECK(o.err == "autovibe: no machine m-404\n");
}

}  // namespace autovibe::cli
