// The audit log through a real controller (and an agent where decisions need one): what users
// did and what the controller decided is written with who, what, which object, from where and
// the result; tampering with the SQLite file is found by `autovibe audit verify`; retention
// keeps the chain verifiable from its first kept record; filters work and bad ones change
// nothing; no secret value or token is ever written.
#include <sqlite3.h>

#include <boost/json.hpp>
#include <catch2/catch.hpp>
#include <fstream>
#include <sstream>

#include "tests/support/catch_result.h"
#include "tests/support/fleet_harness.h"
#include "tests/support/nats_server.h"
#include "tests/support/task_client.h"

using namespace autovibe;
using namespace autovibe::testing;
using namespace std::chrono_literals;
namespace json = boost::json;

namespace {

constexpr const char* kSecretValue = "s3cr3t-VALUE-never-in-audit";

std::string Str(const json::value& v) { return v.is_string() ? std::string(v.as_string()) : ""; }

// Every record, oldest first (through the API's paging).
json::array AllRecords(ControllerProcess& c, const std::string& filter = "") {
  json::array out;
  std::string cursor;
  while (true) {
    json::object page = c.GetJson("/v1/audit?order=asc&limit=1000" + filter +
                                  (cursor.empty() ? "" : "&cursor=" + cursor))
                            .as_object();
    for (auto& r : page.at("records").as_array()) out.push_back(r);
    if (!page.contains("next_cursor")) return out;
    cursor = Str(page.at("next_cursor"));
  }
}

json::array Records(ControllerProcess& c, const std::string& query) {
  return c.GetJson("/v1/audit?" + query).at("records").as_array();
}

// The records whose action and object are these.
std::vector<json::object> Find(const json::array& records, const std::string& action,
                               const std::string& kind, const std::string& id) {
  std::vector<json::object> out;
  for (const auto& v : records) {
    const json::object& r = v.as_object();
    const json::object& o = r.at("object").as_object();
    if (Str(r.at("action")) == action && Str(o.at("kind")) == kind &&
        (id.empty() || Str(o.at("id")) == id)) {
      out.push_back(r);
    }
  }
  return out;
}

// Exactly one record of this request by the admin token, from loopback, with this status.
json::object OneRequest(const json::array& records, const std::string& action,
                        const std::string& kind, const std::string& id, int status) {
  auto found = Find(records, action, kind, id);
  INFO(action << " " << kind << "/" << id << " in " << json::serialize(records));
  REQUIRE(found.size() == 1);
  const json::object& r = found[0];
  CHECK(Str(r.at("actor")) == "admin");
  CHECK(Str(r.at("remote_address")) == "127.0.0.1");
  CHECK(r.at("status").as_int64() == status);
  CHECK(Str(r.at("result")) == (status < 400 ? "ok" : "error"));
  return r;
}

struct CliRun {
  int exit_code;
  std::string output;
};

CliRun Cli(const TempDir& dir, ControllerProcess& c, std::vector<std::string> args) {
  static int n = 0;
  args.insert(args.begin(),
              {BinPath("autovibe"), "--controller", c.base_url(), "--token", c.token()});
  ChildProcess p(args, dir / ("audit-cli-" + std::to_string(++n) + ".out"));
  const int code = p.Wait(15s);
  return {code, p.Log()};
}

// The controller's database, opened as someone with the file would: with or without the
// triggers that keep records append-only.
class Db {
 public:
  Db(const std::string& path, bool triggers) {
    REQUIRE(sqlite3_open(path.c_str(), &db_) == SQLITE_OK);
    sqlite3_busy_timeout(db_, 5000);
    int on = -1;
    sqlite3_db_config(db_, SQLITE_DBCONFIG_ENABLE_TRIGGER, triggers ? 1 : 0, &on);
    REQUIRE(on == (triggers ? 1 : 0));
  }
  ~Db() { sqlite3_close(db_); }
  // The error SQLite gave, "" when the statement ran.
  std::string Exec(const std::string& sql) {
    char* err = nullptr;
    if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err) == SQLITE_OK) return "";
    std::string out = err ? err : "error";
    sqlite3_free(err);
    return out;
  }
  std::string Dump(const std::string& sql) {
    std::string out;
    sqlite3_exec(
        db_, sql.c_str(),
        [](void* o, int n, char** cols, char**) {
          for (int i = 0; i < n; ++i)
            *static_cast<std::string*>(o) += (cols[i] ? cols[i] : "") + std::string("|");
          *static_cast<std::string*>(o) += "\n";
          return 0;
        },
        &out, nullptr);
    return out;
  }

 private:
  sqlite3* db_ = nullptr;
};

}  // namespace

TEST_CASE(
    "requests and the controller's own decisions are audited with actor, object, address "
    "and result, and no secret is written",
    "[audit]") {
  TempDir dir;
  NatsServer nats(dir / "nats");
  ControllerProcess c(dir / "controller", nats.url(),
                      {"--heartbeat-interval", "200ms", "--heartbeat-ttl", "2s"});
  TaskClient tasks(c);
  AgentProcess agent("agent-1", dir / "agent-1", nats.url(), {"--task-slots", "4"});
  REQUIRE(WaitUntil([&] { return c.MachineState("agent-1") == "ready"; }, 15s));
  const std::string machine = Str(c.MachineByName("agent-1")->at("id"));

  // What a user does.
  tasks.CreateProject("demo");
  auto budget = c.Call("PUT", "/v1/projects/demo/budgets", std::nullopt,
                       R"({"budgets":[{"resource":"usd","limit":"5.00","period":"total"}]})");
  REQUIRE(budget);
  REQUIRE(budget->status == 200);
  auto secret = c.Call("PUT", "/v1/secrets/gh", std::nullopt,
                       json::serialize(json::object{{"value", kSecretValue}}));
  REQUIRE(secret);
  REQUIRE(secret->status == 201);
  auto join = c.CallJson("POST", "/v1/machines/join-tokens", json::object{});
  REQUIRE(join);
  const std::string join_token = Str(join->at("token"));
  const std::string join_secret = join_token.substr(join_token.find('.') + 1);

  const std::string done = tasks.SubmitShell("demo", {"sh", "-c", "echo hi > out.txt"});
  REQUIRE(tasks.WaitState(done, "succeeded"));
  std::string checkpoint;
  REQUIRE(WaitUntil(
      [&] {
        auto cps = c.GetJson("/v1/checkpoints?task=" + done).at("checkpoints").as_array();
        if (!cps.empty()) checkpoint = Str(cps[0].at("id"));
        return !checkpoint.empty();
      },
      15s));
  auto deleted = c.Call("DELETE", "/v1/checkpoints/" + checkpoint);
  REQUIRE(deleted);
  REQUIRE(deleted->status == 200);

  const std::string sleeper = tasks.SubmitShell("demo", {"sleep", "60"});
  REQUIRE(tasks.WaitState(sleeper, "running"));
  REQUIRE(tasks.Cancel(sleeper) == 200);
  REQUIRE(tasks.WaitState(sleeper, "cancelled"));
  CHECK(tasks.Cancel(sleeper) == 409);  // refused: already final
  const std::string slow =
      tasks.SubmitShell("demo", {"sleep", "30"}, json::object{{"timeout_s", 1}});
  REQUIRE(tasks.WaitState(slow, "failed"));
  auto anonymous = c.Call("POST", "/v1/projects", std::string("not-a-token"), R"({"name":"x"})");
  REQUIRE(anonymous);
  CHECK(anonymous->status == 401);

  // What the controller decides: a budget runs out (action stop) under a running task...
  tasks.CreateProject("burn");
  const std::string burning = tasks.SubmitShell("burn", {"sleep", "60"});
  REQUIRE(tasks.WaitState(burning, "running"));
  auto zero = c.Call("PUT", "/v1/projects/burn/budgets", std::nullopt,
                     R"({"budgets":[{"resource":"usd","limit":"0.00","period":"total",)"
                     R"("on_exhaust":"stop"}]})");
  REQUIRE(zero);
  REQUIRE(zero->status == 200);
  REQUIRE(tasks.WaitState(burning, "cancelled"));
  // ... and a machine is lost under a running task, which goes back to the queue.
  tasks.CreateProject("other");
  const std::string orphan = tasks.SubmitShell("other", {"sleep", "60"});
  REQUIRE(tasks.WaitState(orphan, "running"));
  agent.Kill();
  REQUIRE(WaitUntil([&] { return c.MachineState("agent-1") == "lost"; }, 10s));
  REQUIRE(tasks.WaitState(orphan, "queued"));

  json::array all;
  REQUIRE(WaitUntil(
      [&] {
        all = AllRecords(c);
        return !Find(all, "task.requeue", "task", orphan).empty();
      },
      5s));
  INFO(json::serialize(all));

  OneRequest(all, "POST /v1/projects", "project", "demo", 201);
  json::object b = OneRequest(all, "PUT /v1/projects/{name}/budgets", "project", "demo", 200);
  CHECK(Str(b.at("project")) == "demo");
  CHECK(b.at("details").at("budgets").as_array().size() == 1);  // what the limit was set to
  OneRequest(all, "PUT /v1/secrets/{name}", "secret", "gh", 201);
  json::object sub = OneRequest(all, "POST /v1/tasks", "task", sleeper, 201);
  CHECK(Str(sub.at("project")) == "demo");
  OneRequest(all, "DELETE /v1/checkpoints/{id}", "checkpoint", checkpoint, 200);
  auto cancels = Find(all, "POST /v1/tasks/{id}/cancel", "task", sleeper);
  REQUIRE(cancels.size() == 2);
  CHECK(cancels[0].at("status").as_int64() == 200);
  CHECK(Str(cancels[0].at("project")) == "demo");
  CHECK(cancels[1].at("status").as_int64() == 409);
  CHECK(Str(cancels[1].at("result")) == "error");
  CHECK(!Str(cancels[1].at("error")).empty());
  auto refused = Records(c, "actor=anonymous");
  REQUIRE(refused.size() == 1);
  CHECK(refused[0].at("status").as_int64() == 401);
  CHECK(Str(refused[0].at("remote_address")) == "127.0.0.1");

  auto alert = Find(all, "budget.alert", "project", "burn");
  REQUIRE(alert.size() == 1);
  CHECK(Str(alert[0].at("actor")) == "controller:budget_exhausted");
  auto stop = Find(all, "project.stop", "project", "burn");
  REQUIRE(stop.size() == 1);
  CHECK(Str(stop[0].at("actor")) == "controller:budget_exhausted");
  CHECK(stop[0].at("details").at("cancelled").as_int64() == 1);
  auto stopped = Find(all, "task.cancelled", "task", burning);
  REQUIRE(stopped.size() == 1);
  CHECK(Str(stopped[0].at("actor")) == "controller:budget_exhausted");
  CHECK(Str(stopped[0].at("project")) == "burn");
  auto timed_out = Find(all, "task.stop", "task", slow);
  REQUIRE(timed_out.size() == 1);
  CHECK(Str(timed_out[0].at("actor")) == "controller:task_timeout");
  CHECK(Str(timed_out[0].at("project")) == "demo");
  auto lost = Find(all, "machine.lost", "machine", machine);
  REQUIRE(lost.size() == 1);
  CHECK(Str(lost[0].at("actor")) == "controller:machine_lost");
  auto requeued = Find(all, "task.requeue", "task", orphan);
  REQUIRE(requeued.size() == 1);
  CHECK(Str(requeued[0].at("actor")) == "controller:machine_lost");
  CHECK(Str(requeued[0].at("project")) == "other");
  CHECK(Str(requeued[0].at("details").at("machine")) == machine);

  SECTION("no secret value and no token is written, in the API's answers or the database") {
    const std::string text = json::serialize(all);
    const std::string table =
        Db(dir / "controller/controller.db", true).Dump("SELECT * FROM audit_log");
    REQUIRE(table.find("admin") != std::string::npos);  // the dump holds the records
    for (const std::string& secret : {std::string(kSecretValue), c.token(), join_secret}) {
      CHECK(text.find(secret) == std::string::npos);
      CHECK(table.find(secret) == std::string::npos);
    }
  }

  SECTION("filters select by actor, project, object and time, and page") {
    for (const auto& r : Records(c, "actor=controller&limit=1000")) {
      CHECK(Str(r.at("actor")).starts_with("controller:"));
    }
    CHECK(Records(c, "actor=controller:machine_lost").size() == 2);
    for (const auto& r : Records(c, "project=burn")) CHECK(Str(r.at("project")) == "burn");
    CHECK(Records(c, "object=task/" + sleeper).size() == 3);  // submitted, cancelled, refused
    CHECK(Records(c, "object=" + sleeper).size() == 3);
    CHECK(Records(c, "object=checkpoint/&actor=admin").size() == 1);
    CHECK(Records(c, "since=1h&limit=1000").size() == all.size());
    const std::string mid = Str(all[all.size() / 2].at("at"));
    for (const auto& r : Records(c, "since=" + mid + "&limit=1000")) CHECK(Str(r.at("at")) >= mid);
    for (const auto& r : Records(c, "until=" + mid + "&limit=1000")) CHECK(Str(r.at("at")) < mid);
    // Newest first, two at a time.
    json::object page = c.GetJson("/v1/audit?limit=2").as_object();
    REQUIRE(page.at("records").as_array().size() == 2);
    const int64_t newest = page.at("records").at(0).at("seq").as_int64();
    CHECK(newest == all.back().at("seq").as_int64());
    json::object next =
        c.GetJson("/v1/audit?limit=2&cursor=" + Str(page.at("next_cursor"))).as_object();
    CHECK(next.at("records").at(0).at("seq").as_int64() == newest - 2);
  }

  SECTION("bad filters are refused with 400 and change nothing") {
    const size_t before = AllRecords(c).size();
    for (const std::string q : {"since=yesterday", "until=2026-13-01T00:00:00Z", "limit=0",
                                "limit=5000", "limit=ten", "cursor=-4", "order=sideways",
                                "object=/t-1", "colour=red", "actor=", "since=2h&until=3h"}) {
      auto r = c.Call("GET", "/v1/audit?" + q);
      REQUIRE(r);
      INFO(q << " -> " << r->body);
      CHECK(r->status == 400);
      CHECK(json::parse(r->body).at("error").at("code").as_string() == "bad_request");
    }
    CHECK(AllRecords(c).size() == before);
    CHECK(Cli(dir, c, {"audit", "verify"}).exit_code == 0);
  }
}

TEST_CASE("audit verify names the record that was changed, removed or reordered in the database",
          "[audit]") {
  TempDir dir;
  NatsServer nats(dir / "nats");
  ControllerProcess c(dir / "controller", nats.url());
  TaskClient tasks(c);
  for (const std::string p : {"p1", "p2", "p3", "p4"}) tasks.CreateProject(p);
  REQUIRE(AllRecords(c).size() == 4);
  const std::string db = dir / "controller/controller.db";

  // `audit verify`, here and on the server: exit 0 saying "intact", or 1 saying `says`.
  auto verify = [&](int exit_code, const std::string& says) {
    for (const auto& args : {std::vector<std::string>{"audit", "verify"},
                             std::vector<std::string>{"audit", "verify", "--server"}}) {
      const CliRun run = Cli(dir, c, args);
      INFO(run.output);
      CHECK(run.exit_code == exit_code);
      CHECK(run.output.find(says) != std::string::npos);
    }
  };
  auto verify_ok = [&] { verify(0, "audit log intact: 4 records (1..4)"); };
  auto verify_broken = [&](const std::string& says) { verify(1, says); };
  verify_ok();

  // SQLite itself refuses to change or remove a record.
  {
    Db guarded(db, true);
    CHECK(guarded.Exec("UPDATE audit_log SET actor = 'eve' WHERE seq = 2").find("never changed") !=
          std::string::npos);
    CHECK(guarded.Exec("DELETE FROM audit_log WHERE seq = 2").find("only by retention") !=
          std::string::npos);
    CHECK(guarded.Exec("UPDATE audit_anchor SET seq = 0").empty());  // not backwards: a no-op
    CHECK(guarded.Exec("DELETE FROM audit_anchor").find("never removed") != std::string::npos);
  }
  // Someone with the file and no triggers: each change is found, and undoing it mends it.
  Db raw(db, false);
  SECTION("a changed field") {
    REQUIRE(raw.Exec("UPDATE audit_log SET actor = 'eve' WHERE seq = 2").empty());
    verify_broken("audit log broken at record 2: record 2 was changed");
    REQUIRE(raw.Exec("UPDATE audit_log SET actor = 'admin' WHERE seq = 2").empty());
    verify_ok();
  }
  SECTION("a removed record") {
    REQUIRE(raw.Exec("CREATE TABLE saved AS SELECT * FROM audit_log WHERE seq = 3").empty());
    REQUIRE(raw.Exec("DELETE FROM audit_log WHERE seq = 3").empty());
    verify_broken("audit log broken at record 3: record 3 is missing");
    REQUIRE(raw.Exec("INSERT INTO audit_log SELECT * FROM saved").empty());
    verify_ok();
  }
  SECTION("two records swapped") {
    REQUIRE(raw.Exec("UPDATE audit_log SET seq = -2 WHERE seq = 2").empty());
    REQUIRE(raw.Exec("UPDATE audit_log SET seq = 2 WHERE seq = 3").empty());
    REQUIRE(raw.Exec("UPDATE audit_log SET seq = 3 WHERE seq = -2").empty());
    verify_broken("audit log broken at record 2: record 2 was changed");
    REQUIRE(raw.Exec("UPDATE audit_log SET seq = -3 WHERE seq = 3").empty());
    REQUIRE(raw.Exec("UPDATE audit_log SET seq = 3 WHERE seq = 2").empty());
    REQUIRE(raw.Exec("UPDATE audit_log SET seq = 2 WHERE seq = -3").empty());
    verify_ok();
  }
}

TEST_CASE("retention removes the oldest records and the chain verifies from the first kept",
          "[audit]") {
  TempDir dir;
  NatsServer nats(dir / "nats");
  std::ofstream(dir / "controller.toml") << "audit_retention = \"2s\"\n";
  ControllerProcess c(dir / "controller", nats.url(), {"--config", dir / "controller.toml"});
  TaskClient tasks(c);
  tasks.CreateProject("early");
  REQUIRE(Records(c, "object=project/early").size() == 1);
  REQUIRE(WaitUntil([&] { return Records(c, "object=project/early").empty(); }, 15s));
  tasks.CreateProject("late");

  json::object page = c.GetJson("/v1/audit?order=asc").as_object();
  const json::object anchor = page.at("anchor").as_object();
  CHECK(anchor.at("seq").as_int64() >= 1);
  const json::array kept = page.at("records").as_array();
  REQUIRE(!kept.empty());
  CHECK(kept[0].at("seq").as_int64() == anchor.at("seq").as_int64() + 1);
  CHECK(Str(kept[0].at("prev_hash")) == Str(anchor.at("hash")));

  const CliRun run = Cli(dir, c, {"audit", "verify"});
  INFO(run.output);
  CHECK(run.exit_code == 0);
  CHECK(run.output.find("removed by retention") != std::string::npos);
  // What retention has not reached is still refused to a plain DELETE.
  Db guarded(dir / "controller/controller.db", true);
  CHECK(guarded.Exec("DELETE FROM audit_log").find("only by retention") != std::string::npos);
  CHECK(Cli(dir, c, {"audit", "verify", "--server"}).exit_code == 0);
}
