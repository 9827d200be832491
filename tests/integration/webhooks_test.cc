// Signed notifications through the whole fleet: real nats-server, controller and agent
// processes, and webhook receivers over https on loopback (Boost.Beast with self-signed
// certificates, tests/fakes/tls_webhook_receiver.h) that check every signature as a user's
// service would.
#include <signal.h>

#include <boost/json.hpp>
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <set>

#include "common/core/time.h"
#include "controller/notify/signature.h"
#include "tests/fakes/tls_webhook_receiver.h"
#include "tests/support/catch_result.h"
#include "tests/support/fleet_harness.h"
#include "tests/support/nats_server.h"
#include "tests/support/task_client.h"

using namespace autovibe;
using namespace autovibe::testing;
using namespace std::chrono_literals;
namespace json = boost::json;
namespace fs = std::filesystem;

namespace {

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// A controller whose deliveries retry after 200 ms (then 400 ms, ...), and one agent whose
// LLM upstream is the agent's own mock.
struct HookFleet {
  TempDir dir;
  NatsServer nats{dir / "nats"};
  CertFiles cert = MakeSelfSignedCert(dir.path(), "receiver");
  std::unique_ptr<ControllerProcess> controller;
  std::unique_ptr<AgentProcess> agent;
  std::unique_ptr<TaskClient> tasks;

  explicit HookFleet(bool with_agent = true) {
    std::ofstream(dir / "controller.toml") << "webhook_first_retry = \"200ms\"\n";
    controller = std::make_unique<ControllerProcess>(
        dir / "controller", nats.url(),
        std::vector<std::string>{"--config", dir / "controller.toml", "--heartbeat-interval",
                                 "200ms", "--heartbeat-ttl", "2s"});
    tasks = std::make_unique<TaskClient>(*controller);
    if (!with_agent) return;
    agent = std::make_unique<AgentProcess>(
        "hook-agent", dir / "hook-agent", nats.url(),
        std::vector<std::string>{"--upstream", "anthropic=mock", "--task-slots", "4"});
    REQUIRE(WaitUntil(
        [&] {
          auto m = controller->MachineByName("hook-agent");
          return m && m->at("state").as_string() == "ready";
        },
        15s));
  }

  // POST /v1/webhooks: the answer (with the secret) of a 201.
  json::object Add(json::object body) {
    auto r = controller->Call("POST", "/v1/webhooks", std::nullopt, json::serialize(body));
    REQUIRE(r);
    INFO(r->body);
    REQUIRE(r->status == 201);
    return json::parse(r->body).as_object();
  }
  // A task_failed subscription of a receiver with this fleet's certificate.
  json::object AddTrusted(const std::string& url) {
    return Add(
        {{"url", url}, {"kinds", json::array{"task_failed"}}, {"ca_pem", ReadAll(cert.cert)}});
  }
  json::array Deliveries(const std::string& id) {
    return controller->GetJson("/v1/webhooks/" + id + "/deliveries").at("deliveries").as_array();
  }
  // The webhook's only delivery, once it is no longer pending.
  json::object Settled(const std::string& id) {
    json::object out;
    const bool settled = WaitUntil(
        [&] {
          auto list = Deliveries(id);
          if (list.size() != 1 || list[0].at("state") == "pending") return false;
          out = list[0].as_object();
          return true;
        },
        20s);
    INFO(LogTails(dir.path()));
    REQUIRE(settled);
    return out;
  }
  std::string Test(const std::string& id) {
    auto r = controller->Call("POST", "/v1/webhooks/" + id + "/test");
    REQUIRE(r);
    INFO(r->body);
    REQUIRE(r->status == 202);
    return std::string(json::parse(r->body).at("id").as_string());
  }
};

// What a receiver checks: the signature over timestamp and body, a recent timestamp, and the
// headers agreeing with the body.
json::object CheckSigned(const ReceivedHook& r, const std::string& secret) {
  INFO(r.body);
  CHECK(VerifyWebhookSignature(r.signature, secret, r.body, SystemClock().NowMs() / 1000, 300));
  CHECK_FALSE(
      VerifyWebhookSignature(r.signature, secret + "x", r.body, SystemClock().NowMs() / 1000, 300));
  json::object body = json::parse(r.body).as_object();
  CHECK(body.at("kind").as_string() == r.event);
  CHECK(body.at("id").as_string() == r.delivery);
  return body;
}

std::string AnthropicCall() {
  return "curl -sS \"$ANTHROPIC_BASE_URL/v1/messages\" -H \"x-api-key: $ANTHROPIC_API_KEY\" "
         "-H 'anthropic-version: 2023-06-01' -H 'content-type: application/json' "
         "-d '{\"model\":\"claude-sonnet-4-5\",\"max_tokens\":16,"
         "\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}'";
}

std::set<std::string> Kinds(const std::vector<ReceivedHook>& hooks) {
  std::set<std::string> out;
  for (const auto& h : hooks) out.insert(h.event);
  return out;
}

}  // namespace

TEST_CASE("webhooks hear budget alerts, task ends and a lost machine, signed, over https",
          "[webhooks]") {
  HookFleet f;
  f.tasks->CreateProject("demo");
  f.tasks->CreateProject("other");
  const std::string ca = ReadAll(f.cert.cert);
  TlsWebhookReceiver everything(f.cert), other_project(f.cert), failures(f.cert);
  const json::array all_kinds{"budget_alert", "budget_exhausted",     "task_succeeded",
                              "task_failed",  "task_awaiting_review", "machine_lost",
                              "spawn_failed"};
  const json::object all = f.Add({{"url", everything.url()}, {"kinds", all_kinds}, {"ca_pem", ca}});
  const std::string secret(all.at("secret").as_string());
  CHECK(secret.starts_with("whsec_"));
  const json::object other = f.Add(
      {{"url", other_project.url()}, {"kinds", all_kinds}, {"project", "other"}, {"ca_pem", ca}});
  const json::object slack = f.Add({{"url", failures.url()},
                                    {"kinds", json::array{"task_failed"}},
                                    {"project", "demo"},
                                    {"format", "slack"},
                                    {"secret", "a-secret-of-my-own-1234"},
                                    {"ca_pem", ca}});
  CHECK_FALSE(slack.contains("ca_pem"));

  const std::string ok = f.tasks->SubmitShell("demo", {"sh", "-c", "true"});
  const std::string bad = f.tasks->SubmitShell("demo", {"sh", "-c", "exit 3"});
  REQUIRE(f.tasks->WaitState(ok, "succeeded"));
  REQUIRE(f.tasks->WaitState(bad, "failed"));
  // Two calls of a limit of two: 50% and then exhausted; the third is refused and the task
  // stopped.
  auto budgets = f.controller->Call(
      "PUT", "/v1/projects/demo/budgets", std::nullopt,
      R"({"budgets":[{"resource":"api_calls","limit":2,"alert_at":[50],"on_exhaust":"stop"}]})");
  REQUIRE(budgets);
  REQUIRE(budgets->status == 200);
  const std::string spender = f.tasks->SubmitShell(
      "demo", {"sh", "-c", AnthropicCall() + "; " + AnthropicCall() + "; " + AnthropicCall()});
  REQUIRE(f.tasks->WaitState(spender, "cancelled"));
  f.agent->process().Signal(SIGKILL);
  REQUIRE(WaitUntil([&] { return f.controller->MachineState("hook-agent") == "lost"; }, 15s));

  const std::set<std::string> want{"task_succeeded", "task_failed", "budget_alert",
                                   "budget_exhausted", "machine_lost"};
  const bool heard = WaitUntil([&] { return Kinds(everything.Accepted()) == want; }, 20s);
  INFO(LogTails(f.dir.path()));
  REQUIRE(heard);
  std::set<std::string> delivery_ids;
  for (const ReceivedHook& h : everything.Accepted()) {
    json::object body = CheckSigned(h, secret);
    delivery_ids.insert(h.delivery);
    if (h.event == "task_succeeded") CHECK(body.at("object").at("id").as_string() == ok);
    if (h.event == "task_failed") {
      CHECK(body.at("object").at("id").as_string() == bad);
      CHECK(body.at("details").at("exit_code") == 3);
    }
    if (h.event == "budget_alert") CHECK(body.at("details").at("threshold") == 50);
    if (h.event == "budget_exhausted") CHECK(body.at("project") == "demo");
    if (h.event == "machine_lost") {
      CHECK(body.at("project").is_null());
      CHECK(body.at("details").at("name") == "hook-agent");
    }
  }
  CHECK(delivery_ids.size() == everything.Accepted().size());  // each event once

  // The Slack subscription heard the failure only, in Slack's shape, signed with its secret.
  REQUIRE(WaitUntil([&] { return failures.Accepted().size() == 1; }, 10s));
  const ReceivedHook f1 = failures.Accepted().front();
  CHECK(f1.event == "task_failed");
  CHECK(VerifyWebhookSignature(f1.signature, "a-secret-of-my-own-1234", f1.body,
                               SystemClock().NowMs() / 1000));
  CHECK_THAT(std::string(json::parse(f1.body).at("text").as_string()),
             Catch::Contains(bad) && Catch::Contains("exit code 3"));
  // Another project's subscription heard nothing, and was never going to (no delivery).
  CHECK(f.Deliveries(std::string(other.at("id").as_string())).empty());
  CHECK(other_project.Received().empty());

  // The secret is never answered again, nor logged.
  const std::string id(all.at("id").as_string());
  for (const std::string& path :
       {std::string("/v1/webhooks"), "/v1/webhooks/" + id, "/v1/webhooks/" + id + "/deliveries"}) {
    auto r = f.controller->Call("GET", path);
    REQUIRE(r);
    CHECK(r->status == 200);
    CHECK(r->body.find(secret) == std::string::npos);
    CHECK(r->body.find("a-secret-of-my-own") == std::string::npos);
  }
  const std::string log = f.controller->process().Log();
  CHECK(log.find("delivered") != std::string::npos);
  CHECK(log.find(secret) == std::string::npos);
  CHECK(log.find("a-secret-of-my-own") == std::string::npos);
}

TEST_CASE("a webhook whose certificate the CA does not vouch for fails as a TLS error",
          "[webhooks]") {
  HookFleet f(false);
  TlsWebhookReceiver receiver(f.cert);
  const CertFiles stranger = MakeSelfSignedCert(f.dir.path(), "stranger");
  const json::object wrong_ca = f.Add({{"url", receiver.url()},
                                       {"kinds", json::array{"task_failed"}},
                                       {"ca_pem", ReadAll(stranger.cert)}});
  const json::object system_ca =
      f.Add({{"url", receiver.url()}, {"kinds", json::array{"task_failed"}}});
  for (const json::object* w : {&wrong_ca, &system_ca}) {
    const std::string id(w->at("id").as_string());
    f.Test(id);
    const json::object d = f.Settled(id);
    CHECK(d.at("state") == "failed");
    CHECK(d.at("attempts") == 1);  // a certificate does not mend itself: no retry
    CHECK(d.at("last_status") == 0);
    CHECK_THAT(std::string(d.at("last_error").as_string()), Catch::StartsWith("tls:"));
  }
  CHECK(receiver.Received().empty());
}

TEST_CASE("a receiver that fails twice gets the delivery on the third attempt, once",
          "[webhooks]") {
  HookFleet f(false);
  TlsWebhookReceiver receiver(f.cert);
  const json::object w = f.AddTrusted(receiver.url());
  const std::string id(w.at("id").as_string());
  receiver.AnswerFirst({503, 429});
  const std::string delivery = f.Test(id);
  const json::object d = f.Settled(id);
  CHECK(d.at("id").as_string() == delivery);
  CHECK(d.at("state") == "delivered");
  CHECK(d.at("attempts") == 3);
  const json::array& log = d.at("log").as_array();
  REQUIRE(log.size() == 3);
  CHECK(log[0].at("status") == 503);
  CHECK(log[1].at("status") == 429);
  CHECK(log[2].at("status") == 200);
  CHECK(receiver.Accepted().size() == 1);
  REQUIRE(receiver.Received().size() == 3);
  for (const ReceivedHook& r : receiver.Received()) {
    CHECK(r.delivery == delivery);  // the same delivery, each attempt signed afresh
    CheckSigned(r, std::string(w.at("secret").as_string()));
  }

  // A refusal (400) is not retried.
  receiver.AnswerFirst({400});
  const json::object refused = f.AddTrusted(receiver.url("/refuse"));
  f.Test(std::string(refused.at("id").as_string()));
  const json::object r = f.Settled(std::string(refused.at("id").as_string()));
  CHECK(r.at("state") == "failed");
  CHECK(r.at("attempts") == 1);
  CHECK(r.at("last_status") == 400);
}

TEST_CASE("deliveries pending when the controller dies are sent after it restarts", "[webhooks]") {
  HookFleet f(false);
  TlsWebhookReceiver receiver(f.cert);
  const json::object w = f.AddTrusted(receiver.url());
  const std::string id(w.at("id").as_string());
  receiver.AnswerFirst({503, 503, 503, 503, 503, 503});
  const std::string delivery = f.Test(id);
  REQUIRE(WaitUntil([&] { return !receiver.Received().empty(); }, 10s));
  f.controller->Kill();
  CHECK(receiver.Accepted().empty());
  receiver.AnswerFirst({});
  f.controller->Start();
  const json::object d = f.Settled(id);
  CHECK(d.at("id").as_string() == delivery);
  CHECK(d.at("state") == "delivered");
  REQUIRE(receiver.Accepted().size() == 1);
  CHECK(receiver.Accepted().front().delivery == delivery);
}

TEST_CASE("bad webhook subscriptions are refused and nothing is stored", "[webhooks]") {
  HookFleet f(false);
  f.tasks->CreateProject("demo");
  const std::string long_url = "https://h.example/" + std::string(5000, 'a');
  const char* bad[] = {
      R"({"url":"ftp://h.example/x","kinds":["task_failed"]})",
      R"({"url":"file:///etc/passwd","kinds":["task_failed"]})",
      R"({"url":"http://hooks.example.com/x","kinds":["task_failed"]})",
      R"({"url":"https://h.example/x","kinds":["task_exploded"]})",
      R"({"url":"https://h.example/x","kinds":[]})",
      R"({"url":"https://h.example/x"})",
      R"({"url":"https://h.example/x","kinds":"task_failed"})",
      R"({"url":"https://h.example/x","kinds":["task_failed"],"project":"nope"})",
      R"({"url":"https://h.example/x","kinds":["task_failed"],"format":"xml"})",
      R"({"url":"https://h.example/x","kinds":["task_failed"],"secret":"short"})",
      R"({"url":"https://h.example/x","kinds":["task_failed"],"ca_pem":"not a cert"})",
      R"({"url":"https://h.example/x","kinds":["task_failed"],"colour":"red"})",
      R"([1,2,3])",
      "not json",
  };
  std::vector<std::string> bodies(std::begin(bad), std::end(bad));
  bodies.push_back(R"({"url":")" + long_url + R"(","kinds":["task_failed"]})");
  bodies.push_back(R"({"url":"https://h.example/x","kinds":["task_failed"],"ca_pem":")" +
                   std::string(100'000, 'A') + "\"}");
  for (const std::string& body : bodies) {
    INFO(body.substr(0, 120));
    auto r = f.controller->Call("POST", "/v1/webhooks", std::nullopt, body);
    REQUIRE(r);
    CHECK(r->status == 400);
  }
  CHECK(f.controller->GetJson("/v1/webhooks").at("webhooks").as_array().empty());
  auto missing = f.controller->Call("DELETE", "/v1/webhooks/wh-nope");
  REQUIRE(missing);
  CHECK(missing->status == 404);
  auto deliveries = f.controller->Call("GET", "/v1/webhooks/wh-nope/deliveries");
  REQUIRE(deliveries);
  CHECK(deliveries->status == 404);
  // Without a token, nothing.
  auto anonymous = f.controller->Call("GET", "/v1/webhooks", "");
  REQUIRE(anonymous);
  CHECK(anonymous->status == 401);
}

TEST_CASE("a machine that never boots is told as spawn_failed", "[webhooks]") {
  TempDir dir;
  KillOnExit cleanup(dir.path());
  NatsServer nats(dir / "nats");
  const std::string mute = dir / "mute-agent";
  std::ofstream(mute) << "#!/bin/sh\nwhile true; do sleep 1; done\n";
  fs::permissions(mute, fs::perms::owner_all);
  std::ofstream(dir / "controller.toml")
      << "[[pool]]\nname = \"local\"\nbackend = \"local\"\nmax = 1\nboot_timeout = \"1s\"\n"
      << "[pool.local]\nagent = \"" << mute << "\"\n";
  ControllerProcess controller(dir / "controller", nats.url(),
                               {"--config", dir / "controller.toml"});
  const CertFiles cert = MakeSelfSignedCert(dir.path(), "receiver");
  TlsWebhookReceiver receiver(cert);
  auto added = controller.Call("POST", "/v1/webhooks", std::nullopt,
                               json::serialize(json::object{{"url", receiver.url()},
                                                            {"kinds", json::array{"spawn_failed"}},
                                                            {"ca_pem", ReadAll(cert.cert)}}));
  REQUIRE(added);
  REQUIRE(added->status == 201);
  const std::string secret(json::parse(added->body).at("secret").as_string());
  const std::string id = controller.SpawnMachine(R"({"pool":"local"})");
  REQUIRE(WaitUntil([&] { return receiver.Accepted().size() == 1; }, 20s));
  const json::object body = CheckSigned(receiver.Accepted().front(), secret);
  CHECK(body.at("kind") == "spawn_failed");
  CHECK(body.at("object").at("id").as_string() == id);
  CHECK_THAT(std::string(body.at("text").as_string()), Catch::Contains("did not register"));
}

TEST_CASE("the CLI adds, lists, tests and removes webhooks", "[webhooks]") {
  HookFleet f(false);
  TlsWebhookReceiver receiver(f.cert);
  auto cli = [&](std::vector<std::string> args) {
    static int n = 0;
    args.insert(args.begin(), {BinPath("autovibe"), "--controller", f.controller->base_url(),
                               "--token", f.controller->token()});
    ChildProcess p(args, f.dir / ("cli-" + std::to_string(++n) + ".out"));
    const int code = p.Wait(15s);
    return std::pair{code, p.Log()};
  };
  auto [code, added] = cli({"webhook", "add", receiver.url(), "--kind", "task_failed,machine_lost",
                            "--kind", "spawn_failed", "--ca", f.cert.cert, "--format", "slack"});
  INFO(added);
  REQUIRE(code == 0);
  const std::string id = added.substr(0, added.find('\n'));
  CHECK(id.starts_with("wh-"));
  const std::string marker = "signing secret (shown once): ";
  REQUIRE(added.find(marker) != std::string::npos);
  const std::string secret = added.substr(added.find(marker) + marker.size(), 70);

  auto [list_code, list] = cli({"webhook", "list"});
  CHECK(list_code == 0);
  CHECK_THAT(list, Catch::Contains(id) &&
                       Catch::Contains("task_failed,machine_lost,spawn_failed") &&
                       Catch::Contains("custom") && Catch::Contains("slack"));
  CHECK(list.find(secret) == std::string::npos);

  auto [test_code, test] = cli({"webhook", "test", id});
  CHECK(test_code == 0);
  CHECK(test.starts_with("dl-"));
  REQUIRE(WaitUntil([&] { return receiver.Accepted().size() == 1; }, 10s));
  CHECK(VerifyWebhookSignature(receiver.Accepted().front().signature, secret,
                               receiver.Accepted().front().body, SystemClock().NowMs() / 1000));
  REQUIRE(WaitUntil(
      [&] {
        return cli({"webhook", "deliveries", id}).second.find("delivered") != std::string::npos;
      },
      10s));
  auto [bad_code, bad] = cli({"webhook", "add", "ftp://x/y", "--kind", "task_failed"});
  CHECK(bad_code == 1);
  CHECK_THAT(bad, Catch::Contains("https://"));
  auto [rm_code, rm] = cli({"webhook", "remove", id});
  CHECK(rm_code == 0);
  CHECK_THAT(rm, Catch::Contains("removed webhook " + id));
  CHECK(cli({"webhook", "remove", id}).first == 4);
  CHECK(cli({"webhook", "list"}).second == "no webhooks\n");
}
