// Trust the sender, not the payload: two machines the controller provisioned, each with the
// bus user the controller minted for it, on a real nats-server with authorization on. With
// machine A's own (stolen) credentials, A publishes usage and checkpoints for a task running
// on machine B, a checkpoint dated in the future for its own paused task, and asks for a lease
// on B's task. Each is refused and counted in /metrics; the ledger and the checkpoints tasks
// resume from are unchanged; the machines' own events still apply.
#include <toml++/toml.h>

#include <boost/json.hpp>
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

#include "autovibe/v1/budget.pb.h"
#include "autovibe/v1/event.pb.h"
#include "common/bus/bus.h"
#include "common/core/time.h"
#include "tests/support/catch_result.h"
#include "tests/support/fleet_harness.h"
#include "tests/support/nats_server.h"
#include "tests/support/task_client.h"

using namespace autovibe;
using namespace autovibe::testing;
using namespace std::chrono_literals;
namespace json = boost::json;

namespace {

// One LLM call through the agent's metering proxy (the mock upstream answers it).
const std::string kLlmCall =
    "curl -sS -o /dev/null \"$ANTHROPIC_BASE_URL/v1/messages\" -H \"x-api-key: "
    "$ANTHROPIC_API_KEY\" -H 'anthropic-version: 2023-06-01' -H 'content-type: "
    "application/json' -d '{\"model\":\"claude-sonnet-4-5\",\"max_tokens\":32,"
    "\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}'";

// A fleet of two provisioned machines with bus users of their own: pool "pa" (label box=a)
// and pool "pb" (box=b), one machine each.
struct AuthFleet {
  TempDir dir;
  KillOnExit cleanup{dir.path()};
  std::unique_ptr<NatsServer> nats;
  std::unique_ptr<ControllerProcess> controller;
  std::string a, b;  // machine ids

  AuthFleet() {
    // The harness's bus has users: the controller's own, and one per machine it mints.
    nats = std::make_unique<NatsServer>(dir / "nats");
    const std::string config = dir / "controller.toml";
    std::ofstream out(config);
    for (const std::string box : {"a", "b"}) {
      out << "[[pool]]\nname = \"p" << box
          << "\"\nbackend = \"local\"\nmax = 1\nlabels = { box = \"" << box
          << "\" }\n[pool.agent]\nupstreams = { anthropic = \"mock\" }\n";
    }
    out.close();
    controller = std::make_unique<ControllerProcess>(dir / "controller", nats->url(),
                                                     std::vector<std::string>{"--config", config});
    a = controller->SpawnMachine(R"({"pool":"pa"})");
    b = controller->SpawnMachine(R"({"pool":"pb"})");
    for (const auto& id : {a, b}) {
      REQUIRE(WaitUntil([&] { return controller->MachineState(id) == "ready"; }, 20s));
    }
  }

  // The bus password the controller minted for the machine of pool `pool`, from its agent's
  // config: what a task that broke out of its box would steal.
  std::string PasswordOf(const std::string& pool) {
    toml::table t = toml::parse_file(dir / ("controller/machines/" + pool + "-1/agent.toml"));
    return t["nats_password"].value_or(std::string());
  }

  std::string UsdTotal(const std::string& project) {
    auto u = controller->GetJson("/v1/projects/" + project + "/usage");
    return std::string(u.at("totals").at("usd").as_string());
  }
  // The machines the project's ledger has rows for.
  std::set<std::string> ChargedMachines(const std::string& project) {
    auto u = controller->GetJson("/v1/usage?project=" + project + "&group_by=machine");
    std::set<std::string> out;
    for (const auto& r : u.at("rows").as_array()) out.insert(JsonString(r.as_object(), "key"));
    return out;
  }
  std::set<std::string> CheckpointsOf(const std::string& task) {
    auto l = controller->GetJson("/v1/checkpoints?task=" + task);
    std::set<std::string> out;
    for (const auto& c : l.at("checkpoints").as_array()) {
      out.insert(JsonString(c.as_object(), "id"));
    }
    return out;
  }
  double Refused(const std::string& kind, const std::string& reason) {
    return controller->Metric("autovibe_events_refused_total{kind=\"" + kind + "\",reason=\"" +
                              reason + "\"}");
  }
};

std::string UsageEvent(const std::string& id, const std::string& machine, const std::string& task,
                       uint32_t attempt, const std::string& project) {
  v1::AgentEvent ev;
  ev.set_event_id(id);
  ev.set_machine_id(machine);
  ev.set_at_unix_ns(UnixNowNs());
  auto* u = ev.mutable_usage();
  u->set_task_id(task);
  u->set_attempt(attempt);
  u->set_project(project);
  u->set_lease_id("l-forged");
  u->set_kind("llm");
  u->set_provider("anthropic");
  u->set_model("claude-opus-4-1");
  u->set_status("ok");
  u->set_cost_micros(40'000'000);  // $40
  return ev.SerializeAsString();
}

std::string CheckpointEvent(const std::string& id, const std::string& checkpoint,
                            const std::string& machine, const std::string& task, uint32_t attempt,
                            int64_t created_at_ms) {
  v1::AgentEvent ev;
  ev.set_event_id(id);
  ev.set_machine_id(machine);
  ev.set_at_unix_ns(UnixNowNs());
  auto* c = ev.mutable_checkpoint_created();
  c->set_attempt(attempt);
  auto* m = c->mutable_manifest();
  m->set_id(checkpoint);
  m->set_machine_id(machine);
  m->set_task_id(task);
  m->set_root(std::string(32, '\x42'));
  m->set_trigger("manual");
  m->set_created_unix_ms(created_at_ms);
  return ev.SerializeAsString();
}

}  // namespace

TEST_CASE("a machine's own credentials cannot charge, checkpoint or lease what is not its own",
          "[machines][budget]") {
  AuthFleet f;
  TaskClient tasks(*f.controller);
  tasks.CreateProject("alpha");
  tasks.CreateProject("beta");
  auto budget = f.controller->Call(
      "PUT", "/v1/projects/beta/budgets", std::nullopt,
      R"({"budgets":[{"resource":"usd","limit":"50.00","period":"total","on_exhaust":"pause"}]})");
  REQUIRE(budget);
  REQUIRE(budget->status == 200);

  // Beta's task on B and alpha's on A each make one metered call, then keep running.
  const std::string script = "echo work > notes.txt; " + kLlmCall + "; sleep 120";
  const std::string tb = tasks.SubmitShell("beta", {"sh", "-c", script},
                                           json::object{{"labels", json::object{{"box", "b"}}}});
  const std::string ta = tasks.SubmitShell("alpha", {"sh", "-c", script},
                                           json::object{{"labels", json::object{{"box", "a"}}}});
  REQUIRE(tasks.WaitState(tb, "running"));
  REQUIRE(tasks.WaitState(ta, "running"));
  CHECK(JsonString(tasks.Task(tb), "machine_id") == f.b);
  CHECK(JsonString(tasks.Task(ta), "machine_id") == f.a);
  // The machines' own usage is charged, each to its task's project.
  REQUIRE(WaitUntil([&] { return f.UsdTotal("beta") != "0.000000"; }, 20s));
  REQUIRE(WaitUntil([&] { return f.UsdTotal("alpha") != "0.000000"; }, 20s));
  // Alpha stops: A's task is paused, its workspace (and checkpoint) kept.
  auto stop = f.controller->Call("POST", "/v1/projects/alpha/stop");
  REQUIRE(stop);
  REQUIRE(stop->status == 200);
  REQUIRE(tasks.WaitState(ta, "paused"));
  // Each workspace is checkpointed once after its call (the next would be 30 s later).
  REQUIRE(WaitUntil([&] { return !f.CheckpointsOf(ta).empty(); }, 20s));
  REQUIRE(WaitUntil([&] { return !f.CheckpointsOf(tb).empty(); }, 20s));
  const std::string beta_spent = f.UsdTotal("beta");
  const std::set<std::string> ta_checkpoints = f.CheckpointsOf(ta);
  const std::set<std::string> tb_checkpoints = f.CheckpointsOf(tb);
  CHECK(f.ChargedMachines("beta") == std::set<std::string>{f.b});

  // A's agent credentials, as a task that broke out would find them.
  auto as_a = ConnectNats({.url = f.nats->url(),
                           .user = f.a,
                           .password = f.PasswordOf("pa"),
                           .inbox_prefix = "_INBOX_" + f.a});
  REQUIRE(as_a);
  Bus& bus = **as_a;
  const std::string subject = "av.evt." + f.a;
  const auto attempt_b = static_cast<uint32_t>(tasks.Task(tb).at("attempts").to_number<int64_t>());
  const auto attempt_a = static_cast<uint32_t>(tasks.Task(ta).at("attempts").to_number<int64_t>());
  const int64_t now_ms = UnixNowNs() / 1'000'000;
  // $40 of usage for B's task, once in A's name and once claiming to be B.
  REQUIRE(bus.StreamPublish(subject, UsageEvent("e-forged-1", f.a, tb, attempt_b, "beta"),
                            "e-forged-1", 5s));
  REQUIRE(bus.StreamPublish(subject, UsageEvent("e-forged-2", f.b, tb, attempt_b, "beta"),
                            "e-forged-2", 5s));
  // A checkpoint of B's task; one of A's own paused task, dated a year ahead.
  REQUIRE(bus.StreamPublish(
      subject, CheckpointEvent("e-forged-3", "cp-f0f0f0f0f0f1", f.a, tb, attempt_b, now_ms),
      "e-forged-3", 5s));
  REQUIRE(bus.StreamPublish(subject,
                            CheckpointEvent("e-forged-4", "cp-f0f0f0f0f0f2", f.a, ta, attempt_a,
                                            now_ms + int64_t{365} * 86'400'000),
                            "e-forged-4", 5s));
  // A lease on B's task.
  v1::LeaseRequest lease;
  lease.set_machine_id(f.a);
  lease.set_lease_id("l-forged");
  lease.set_task_id(tb);
  lease.set_attempt(attempt_b);
  lease.set_project("beta");
  lease.mutable_need_total()->set_usd_micros(40'000'000);
  lease.mutable_want_total()->set_usd_micros(40'000'000);
  auto answer = bus.Request("av.lease." + f.a, lease.SerializeAsString(), 5s);
  REQUIRE(answer);
  v1::LeaseReply refused_lease;
  REQUIRE(refused_lease.ParseFromString(*answer));
  CHECK_FALSE(refused_lease.ok());
  CHECK(refused_lease.error().find("placed on machine " + f.b) != std::string::npos);

  // Each is refused and counted by kind and reason.
  REQUIRE(WaitUntil([&] { return f.Refused("checkpoint_created", "future_dated") == 1; }, 15s));
  CHECK(f.Refused("usage", "not_your_task") == 1);
  CHECK(f.Refused("usage", "subject_mismatch") == 1);
  CHECK(f.Refused("checkpoint_created", "not_your_task") == 1);
  CHECK(f.Refused("lease", "not_your_task") == 1);
  // Nothing else changed: beta's ledger, and the checkpoints both tasks would resume from.
  CHECK(f.UsdTotal("beta") == beta_spent);
  CHECK(f.ChargedMachines("beta") == std::set<std::string>{f.b});
  CHECK(f.CheckpointsOf(ta) == ta_checkpoints);
  CHECK(f.CheckpointsOf(tb) == tb_checkpoints);
  CHECK(tasks.State(tb) == "running");
  CHECK(tasks.State(ta) == "paused");

  // The machines' own events still apply: A's next task runs, its call is charged to alpha.
  const std::string alpha_before = f.UsdTotal("alpha");
  CHECK(tasks.Cancel(ta) == 200);
  auto resume = f.controller->Call("POST", "/v1/projects/alpha/resume");
  REQUIRE(resume);
  REQUIRE(resume->status == 200);
  const std::string tc = tasks.SubmitShell("alpha", {"sh", "-c", kLlmCall + " && echo called"},
                                           json::object{{"labels", json::object{{"box", "a"}}}});
  REQUIRE(tasks.WaitState(tc, "succeeded"));
  CHECK(tasks.Logs(tc).find("called") != std::string::npos);
  REQUIRE(WaitUntil([&] { return f.UsdTotal("alpha") != alpha_before; }, 20s));
  CHECK(f.ChargedMachines("alpha") == std::set<std::string>{f.a});
  CHECK(tasks.Cancel(tb) == 200);
}
