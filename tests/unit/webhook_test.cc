// Signed notifications, piece by piece: the signature a receiver checks, which answers are
// retried, what a subscription may be, the bodies, and the notifier over a real SQLite store
// posting to a real HTTP server on loopback (a stop and a start in between).
#include <boost/asio/io_context.hpp>
#include <boost/json.hpp>
#include <catch2/catch.hpp>
#include <mutex>

#include "common/core/time.h"
#include "controller/config.h"
#include "controller/notify/payload.h"
#include "controller/notify/retry_policy.h"
#include "controller/notify/signature.h"
#include "controller/notify/webhook_notifier.h"
#include "controller/notify/webhook_rules.h"
#include "controller/store/store.h"
#include "tests/fakes/fake_provider.h"
#include "tests/fakes/tls_webhook_receiver.h"
#include "tests/support/catch_result.h"
#include "tests/support/process.h"

using namespace autovibe;
using namespace autovibe::testing;
using namespace std::chrono_literals;
namespace json = boost::json;

TEST_CASE("a webhook signature is HMAC-SHA256 over the timestamp and the body", "[webhooks]") {
  const std::string secret = "whsec_test_secret_0123";
  const std::string body = R"({"kind":"test"})";
  // The same figure as Python's hmac.new(secret, b"1700000000." + body, sha256).hexdigest().
  CHECK(WebhookSignature(secret, 1'700'000'000, body) ==
        "t=1700000000,v1=0f9bedeeded27bb786dad8a61a66b1a70c7393c478992c1cfce52aa3418b436f");
  const std::string header = WebhookSignature(secret, 1'700'000'000, body);
  CHECK(VerifyWebhookSignature(header, secret, body, 1'700'000'100));
  // A changed body, another secret, an old or a future timestamp are refused.
  CHECK(VerifyWebhookSignature(header, secret, R"({"kind":"tesT"})", 1'700'000'100).error().code ==
        ErrorCode::kUnauthorized);
  CHECK_FALSE(VerifyWebhookSignature(header, "whsec_another_secret__", body, 1'700'000'100));
  CHECK_FALSE(VerifyWebhookSignature(header, secret, body, 1'700'000'301));
  CHECK_FALSE(VerifyWebhookSignature(header, secret, body, 1'699'999'699));
  // A replayed body with a fresh timestamp but the old HMAC does not pass.
  const std::string moved = "t=1700000500," + header.substr(header.find("v1="));
  CHECK_FALSE(VerifyWebhookSignature(moved, secret, body, 1'700'000'500));
  for (const char* bad : {"", "t=1700000000", "v1=00", "t=x,v1=00", "garbage"}) {
    INFO(bad);
    CHECK(VerifyWebhookSignature(bad, secret, body, 1'700'000'000).error().code ==
          ErrorCode::kBadRequest);
  }
}

TEST_CASE("deliveries retry what may pass later and give up on what will not", "[webhooks]") {
  CHECK(JudgeAttempt(200, std::nullopt) == AttemptVerdict::kDelivered);
  CHECK(JudgeAttempt(204, std::nullopt) == AttemptVerdict::kDelivered);
  for (int s : {408, 429, 500, 502, 503, 504}) {
    INFO(s);
    CHECK(JudgeAttempt(s, std::nullopt) == AttemptVerdict::kRetry);
  }
  for (int s : {301, 400, 401, 403, 404, 410, 413}) {
    INFO(s);
    CHECK(JudgeAttempt(s, std::nullopt) == AttemptVerdict::kGiveUp);
  }
  CHECK(JudgeAttempt(0, ErrorCode::kUnavailable) == AttemptVerdict::kRetry);
  CHECK(JudgeAttempt(0, ErrorCode::kIo) == AttemptVerdict::kRetry);
  CHECK(JudgeAttempt(0, ErrorCode::kTls) == AttemptVerdict::kGiveUp);
  // Six attempts by default, the waits doubling from 20 s: about ten minutes in all.
  const DeliveryRetry policy;
  CHECK(policy.attempts == 6);
  std::chrono::milliseconds total{0};
  for (int made = 1; made < policy.attempts; ++made) total += DeliveryRetryDelay(policy, made);
  CHECK(DeliveryRetryDelay(policy, 1) == 20s);
  CHECK(DeliveryRetryDelay(policy, 5) == 320s);
  CHECK(total == 620s);
}

TEST_CASE("a subscription is checked before it is kept", "[webhooks]") {
  WebhookRules rules{.project_exists = [](std::string_view p) { return p == "demo"; }};
  WebhookRequest ok{.url = "https://hooks.example.com/x", .kinds = {"task_failed"}};
  auto made = MakeWebhook(ok, rules);
  REQUIRE(made);
  CHECK(made->secret.starts_with("whsec_"));
  CHECK(made->secret.size() == 6 + 64);
  CHECK(made->format == WebhookFormat::kJson);
  CHECK(MakeWebhook({.url = "http://127.0.0.1:9/x", .kinds = {"machine_lost"}}, rules));
  CHECK(MakeWebhook({.url = "http://[::1]:9/x", .kinds = {"machine_lost"}}, rules));
  CHECK(MakeWebhook({.url = "http://localhost/x", .kinds = {"machine_lost"}}, rules));

  struct Bad {
    const char* why;
    WebhookRequest req;
  };
  const std::string long_url = "https://h.example/" + std::string(kMaxWebhookUrl, 'a');
  const Bad bad[] = {
      {"ftp", {.url = "ftp://h/x", .kinds = {"task_failed"}}},
      {"no scheme", {.url = "hooks.example.com/x", .kinds = {"task_failed"}}},
      {"javascript", {.url = "javascript:alert(1)", .kinds = {"task_failed"}}},
      {"plain http away", {.url = "http://hooks.example.com/x", .kinds = {"task_failed"}}},
      {"userinfo", {.url = "https://u:p@hooks.example.com/x", .kinds = {"task_failed"}}},
      {"too long", {.url = long_url, .kinds = {"task_failed"}}},
      {"no kind", {.url = "https://h.example/x"}},
      {"unknown kind", {.url = "https://h.example/x", .kinds = {"task_exploded"}}},
      {"test kind", {.url = "https://h.example/x", .kinds = {"test"}}},
      {"unknown project",
       {.url = "https://h.example/x", .kinds = {"task_failed"}, .project = "nope"}},
      {"format", {.url = "https://h.example/x", .kinds = {"task_failed"}, .format = "xml"}},
      {"short secret", {.url = "https://h.example/x", .kinds = {"task_failed"}, .secret = "short"}},
      {"secret with a space",
       {.url = "https://h.example/x", .kinds = {"task_failed"}, .secret = "a secret of words"}},
      {"not a certificate",
       {.url = "https://h.example/x", .kinds = {"task_failed"}, .ca_pem = "-----BEGIN nothing"}},
      {"unreadable ca file",
       {.url = "https://h.example/x", .kinds = {"task_failed"}, .ca_file = "/nonexistent.pem"}},
  };
  for (const Bad& b : bad) {
    INFO(b.why);
    auto r = MakeWebhook(b.req, rules);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == ErrorCode::kBadRequest);
  }
  WebhookRules open{.allow_http = true};
  CHECK(MakeWebhook({.url = "http://hooks.example.com/x", .kinds = {"task_failed"}}, open));

  TempDir dir;
  const CertFiles cert = MakeSelfSignedCert(dir.path(), "ca");
  auto with_ca = MakeWebhook(
      {.url = "https://127.0.0.1/x", .kinds = {"task_failed"}, .ca_file = cert.cert}, rules);
  REQUIRE(with_ca);
  CHECK(with_ca->ca_pem.find("BEGIN CERTIFICATE") != std::string::npos);
  // The key is not a certificate.
  CHECK_FALSE(MakeWebhook(
      {.url = "https://127.0.0.1/x", .kinds = {"task_failed"}, .ca_file = cert.key}, rules));
}

TEST_CASE("Slack bodies carry the text and escape what Slack reads as markup", "[webhooks]") {
  TaskRecord t{.id = "t-1", .project = "demo", .state = TaskState::kFailed, .attempts = 2};
  t.exit_code = 3;
  t.reason = "<!channel> & friends";
  auto n = TaskNotification(t);
  REQUIRE(n);
  CHECK(n->kind == NotificationKind::kTaskFailed);
  CHECK(n->key == "task_failed:t-1:2");
  auto slack = json::parse(DeliveryBody(WebhookFormat::kSlack, *n, "dl-1")).as_object();
  const std::string text(slack.at("text").as_string());
  CHECK(text ==
        "autovibe: task t-1 in project demo failed (exit code 3): &lt;!channel&gt; &amp; "
        "friends");
  CHECK(slack.at("blocks").as_array().size() == 2);
  auto generic = json::parse(DeliveryBody(WebhookFormat::kJson, *n, "dl-1")).as_object();
  CHECK(generic.at("kind") == "task_failed");
  CHECK(generic.at("object") == json::parse(R"({"type":"task","id":"t-1"})"));
  CHECK(generic.at("details").at("exit_code") == 3);
  t.state = TaskState::kRunning;
  CHECK_FALSE(TaskNotification(t));
}

namespace {

// A notifier over a real store in `dir`, run on `ioc`.
struct NotifierRig {
  NotifierRig(const TempDir& dir, boost::asio::io_context& ioc, size_t keep = 100) {
    auto s = OpenSqliteStore(dir / "controller.db");
    REQUIRE(s);
    store = std::move(*s);
    notifier = std::make_unique<WebhookNotifier>(
        WebhookNotifierDeps{.ioc = &ioc,
                            .store = &store->webhooks(),
                            .clock = &clock,
                            .ca_dir = dir / "cas",
                            .retry = {.attempts = 6, .first_retry = 20ms},
                            .keep_deliveries = keep});
    REQUIRE(notifier->Load());
  }
  WebhookDelivery Only(const std::string& webhook) {
    auto list = notifier->Deliveries(webhook, 10);
    REQUIRE(list);
    REQUIRE(list->size() == 1);
    return list->front();
  }

  SystemClock clock;
  std::unique_ptr<Store> store;
  std::unique_ptr<WebhookNotifier> notifier;
};

Notification Failed(const std::string& task) {
  TaskRecord t{.id = task, .project = "demo", .state = TaskState::kFailed, .attempts = 1};
  return *TaskNotification(t);
}

}  // namespace

TEST_CASE("a delivery pending when the notifier stops is sent when it starts again", "[webhooks]") {
  TempDir dir;
  std::mutex mu;
  int status = 503;
  std::vector<std::string> ids;
  FakeServerThread receiver;
  REQUIRE(receiver.Start("127.0.0.1", 0, [&](const HttpRequest& r) {
    std::lock_guard lock(mu);
    ids.emplace_back(HeaderValue(r, "x-autovibe-delivery"));
    return HttpResponse{.status = status};
  }));
  boost::asio::io_context ioc;
  std::string webhook, delivery;
  {
    NotifierRig rig(dir, ioc);
    auto w = rig.notifier->Add({.url = receiver.url() + "/hook", .kinds = {"task_failed"}});
    REQUIRE(w);
    webhook = (*w)->id;
    rig.notifier->Notify(Failed("t-1"));
    rig.notifier->Notify(Failed("t-1"));  // said twice: one delivery
    REQUIRE(RunUntil(
        ioc, [&] { return !rig.Only(webhook).attempts.empty(); }, 10s));
    rig.notifier->Stop();
    const WebhookDelivery d = rig.Only(webhook);
    CHECK(d.state == DeliveryState::kPending);
    CHECK(d.attempts.front().status == 503);
    delivery = d.id;
  }
  {
    std::lock_guard lock(mu);
    status = 200;
  }
  ioc.restart();
  NotifierRig again(dir, ioc);
  REQUIRE(RunUntil(
      ioc, [&] { return again.Only(webhook).state == DeliveryState::kDelivered; }, 10s));
  const WebhookDelivery d = again.Only(webhook);
  CHECK(d.id == delivery);
  CHECK(d.attempts.back().status == 200);
  std::lock_guard lock(mu);
  CHECK(std::all_of(ids.begin(), ids.end(), [&](const std::string& id) { return id == delivery; }));
}

TEST_CASE("a webhook's delivery log keeps only the newest deliveries", "[webhooks]") {
  TempDir dir;
  FakeServerThread receiver;
  REQUIRE(receiver.Start("127.0.0.1", 0, [](const HttpRequest&) { return HttpResponse{}; }));
  boost::asio::io_context ioc;
  NotifierRig rig(dir, ioc, 3);
  auto w = rig.notifier->Add({.url = receiver.url() + "/hook", .kinds = {"task_failed"}});
  REQUIRE(w);
  for (int i = 0; i < 5; ++i) rig.notifier->Notify(Failed("t-" + std::to_string(i)));
  auto list = rig.notifier->Deliveries((*w)->id, 10);
  REQUIRE(list);
  REQUIRE(list->size() == 3);
  CHECK(list->front().event_key == "task_failed:t-4:1");
  CHECK(list->back().event_key == "task_failed:t-2:1");
  // A task told before, whose delivery left the log, changes again: not told twice. Nor is a
  // task that ended before this notifier started (its delivery was recorded then).
  rig.notifier->Notify(Failed("t-0"));
  Notification old = Failed("t-5");
  old.at_ms = rig.clock.NowMs() - 60'000;
  rig.notifier->Notify(old);
  CHECK(rig.notifier->Deliveries((*w)->id, 10)->front().event_key == "task_failed:t-4:1");
  // A subscription to other kinds hears nothing.
  auto other = rig.notifier->Add({.url = receiver.url() + "/other", .kinds = {"machine_lost"}});
  REQUIRE(other);
  rig.notifier->Notify(Failed("t-9"));
  CHECK(rig.notifier->Deliveries((*other)->id, 10)->empty());
  const std::string id = (*w)->id;
  REQUIRE(rig.notifier->Remove(id));
  CHECK(rig.notifier->Deliveries(id, 10).error().code == ErrorCode::kNotFound);
  CHECK(rig.notifier->Find(id) == nullptr);
}

TEST_CASE("webhook settings are read from the controller config and checked", "[webhooks]") {
  ControllerConfig c;
  CHECK(c.webhook_attempts == 6);
  CHECK(c.webhook_first_retry == 20s);
  CHECK_FALSE(c.webhook_allow_http);
  REQUIRE(LoadControllerConfigToml(
      "webhook_attempts = 3\nwebhook_first_retry = \"2s\"\nwebhook_allow_http = true\n", c));
  CHECK(c.webhook_attempts == 3);
  CHECK(c.webhook_first_retry == 2s);
  CHECK(c.webhook_allow_http);
  CHECK(ValidateControllerConfig(c));
  CHECK_FALSE(LoadControllerConfigToml("webhook_attempts = 0\n", c));
  CHECK_FALSE(LoadControllerConfigToml("webhook_attempts = 21\n", c));
  CHECK_FALSE(LoadControllerConfigToml("webhook_allow_http = \"yes\"\n", c));
  c.webhook_first_retry = 1ms;
  CHECK_FALSE(ValidateControllerConfig(c));
}
