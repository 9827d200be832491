// The forge client (controller/publish/forge.h, retry.h, pull_request_opener.h) against the
// fake forge (tests/fakes/fake_forge.h) on loopback: no forge can run here.
#include "controller/publish/forge.h"

#include <boost/asio/ip/tcp.hpp>
#include <boost/json.hpp>
#include <catch2/catch.hpp>

#include "common/http/client.h"
#include "controller/publish/pull_request_opener.h"
#include "controller/publish/retry.h"
#include "tests/fakes/fake_forge.h"
#include "tests/support/catch_result.h"
#include "tests/support/process.h"

namespace autovibe {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;
using testing::FakeForge;
using testing::FakeForgeOptions;

constexpr const char* kToken = "ghp_forgeToken123";

struct ForgeFixture {
  FakeForge fake{FakeForgeOptions{{kToken}, {"octo/widgets"}}};
  std::unique_ptr<Forge> forge = MakeHttpForge(ForgeOptions{.timeout = 5s});

  ForgeFixture() { REQUIRE(fake.Start()); }

  PullRequestSpec Spec(std::string head = "autovibe/t-1", std::string prefix = "") const {
    return PullRequestSpec{.api_base = fake.url() + prefix,
                           .owner = "octo",
                           .repo = "widgets",
                           .token = std::string(kToken) + "\n",  // as a secret file holds it
                           .head = std::move(head),
                           .base = "main",
                           .title = "Fix the test",
                           .body = "The body"};
  }
};

// A retry policy whose waits are recorded, never slept.
RetryPolicy Policy(int attempts = 4) {
  return RetryPolicy{.max_attempts = attempts,
                     .first_delay = 100ms,
                     .factor = 2.0,
                     .max_delay = 1s,
                     .jitter = 0.2};
}

// Opens with retries, recording the waits instead of sleeping them.
PullRequestOutcome Retried(Forge& forge, const PullRequestSpec& spec, const RetryPolicy& policy,
                           std::vector<std::chrono::milliseconds>& waits) {
  return OpenPullRequestWithRetries(forge, spec, policy, [&](auto d) { waits.push_back(d); });
}

}  // namespace

TEST_CASE("forge: a pull request is opened with the token, as GitHub's API wants", "[publish]") {
  ForgeFixture f;
  auto pr = f.forge->OpenPullRequest(f.Spec());
  REQUIRE(pr);
  CHECK(pr->number == 1);
  CHECK(pr->url == f.fake.url() + "/octo/widgets/pull/1");
  CHECK_FALSE(pr->existed);
  auto pulls = f.fake.PullRequests();
  REQUIRE(pulls.size() == 1);
  CHECK(pulls[0].title == "Fix the test");
  CHECK(pulls[0].body == "The body");
  CHECK(pulls[0].head == "autovibe/t-1");
  CHECK(pulls[0].base == "main");
  CHECK(f.fake.unauthorized() == 0);
  // Another branch is another pull request, numbered on.
  auto second = f.forge->OpenPullRequest(f.Spec("autovibe/t-2"));
  REQUIRE(second);
  CHECK(second->number == 2);
}

TEST_CASE("forge: an open pull request for the same branches is the same one, not a failure",
          "[publish]") {
  ForgeFixture f;
  REQUIRE(f.forge->OpenPullRequest(f.Spec("autovibe/other")));
  auto first = f.forge->OpenPullRequest(f.Spec());
  REQUIRE(first);
  auto again = f.forge->OpenPullRequest(f.Spec());
  REQUIRE(again);
  CHECK(again->existed);
  CHECK(again->number == first->number);
  CHECK(again->url == first->url);
  CHECK(f.fake.PullRequests().size() == 2);
  // The fake said 422 "already exists" and was then asked for the open one.
  const auto calls = f.fake.Requests();
  CHECK_THAT(calls.back(), Catch::StartsWith("GET /repos/octo/widgets/pulls?state=open&head=octo%3A"
                                             "autovibe%2Ft-1&base=main"));
}

TEST_CASE("forge: Gitea's API under /api/v1, its 409 for an existing pull request", "[publish]") {
  ForgeFixture f;
  REQUIRE(f.forge->OpenPullRequest(f.Spec("autovibe/other", "/api/v1")));
  auto first = f.forge->OpenPullRequest(f.Spec("autovibe/t-1", "/api/v1"));
  REQUIRE(first);
  CHECK(first->number == 2);
  // Gitea ignores head and base in its list: the client picks the right one itself.
  auto again = f.forge->OpenPullRequest(f.Spec("autovibe/t-1", "/api/v1"));
  REQUIRE(again);
  CHECK(again->existed);
  CHECK(again->number == 2);
}

TEST_CASE("forge: a refused token fails for good and is not repeated", "[publish]") {
  ForgeFixture f;
  PullRequestSpec spec = f.Spec();
  spec.token = "ghp_wrongToken999";
  auto pr = f.forge->OpenPullRequest(spec);
  REQUIRE_FALSE(pr);
  CHECK(pr.error().code == ErrorCode::kUnauthorized);
  CHECK_FALSE(IsRetryable(pr.error()));
  CHECK_THAT(pr.error().message, Catch::Contains("401") && Catch::Contains("Bad credentials"));
  CHECK_THAT(pr.error().message, !Catch::Contains("ghp_wrongToken999"));
  spec.token = "";
  CHECK(f.forge->OpenPullRequest(spec).error().code == ErrorCode::kUnauthorized);
  CHECK(f.fake.unauthorized() == 2);

  // With retries: one attempt, no wait.
  std::vector<std::chrono::milliseconds> waits;
  spec.token = "ghp_wrongToken999";
  auto outcome = Retried(*f.forge, spec, Policy(), waits);
  CHECK(outcome.attempts == 1);
  CHECK(waits.empty());
  CHECK(f.fake.PullRequests().empty());
}

TEST_CASE("forge: an unknown repository is a 404 that is not retried", "[publish]") {
  ForgeFixture f;
  PullRequestSpec spec = f.Spec();
  spec.repo = "nope";
  auto pr = f.forge->OpenPullRequest(spec);
  REQUIRE_FALSE(pr);
  CHECK(pr.error().code == ErrorCode::kNotFound);
  CHECK_FALSE(IsRetryable(pr.error()));
}

TEST_CASE("forge: two 502s, then the pull request, waiting by the backoff", "[publish]") {
  ForgeFixture f;
  f.fake.FailNext(2, 502);
  std::vector<std::chrono::milliseconds> waits;
  auto outcome = Retried(*f.forge, f.Spec(), Policy(), waits);
  REQUIRE(outcome.result);
  CHECK(outcome.attempts == 3);
  CHECK(outcome.result->number == 1);
  CHECK(waits == std::vector<std::chrono::milliseconds>{90ms, 180ms});  // jitter at its middle
  CHECK(f.fake.PullRequests().size() == 1);
}

TEST_CASE("forge: 500s past the last attempt end with the forge's answer", "[publish]") {
  ForgeFixture f;
  f.fake.FailNext(10, 500);
  std::vector<std::chrono::milliseconds> waits;
  auto outcome = Retried(*f.forge, f.Spec(), Policy(3), waits);
  REQUIRE_FALSE(outcome.result);
  CHECK(outcome.attempts == 3);
  CHECK(waits.size() == 2);
  CHECK(outcome.result.error().code == ErrorCode::kUnavailable);
  CHECK_THAT(outcome.result.error().message, Catch::Contains("500"));
  CHECK(f.fake.PullRequests().empty());
}

TEST_CASE("forge: an unreachable host and a silent one are retried", "[publish]") {
  auto forge = MakeHttpForge(ForgeOptions{.timeout = 300ms});
  PullRequestSpec spec{.api_base = "http://127.0.0.1:" + std::to_string(testing::FreePort()),
                       .owner = "o",
                       .repo = "r",
                       .token = "t",
                       .head = "h",
                       .base = "main",
                       .title = "x"};
  auto refused = forge->OpenPullRequest(spec);
  REQUIRE_FALSE(refused);
  CHECK(refused.error().code == ErrorCode::kUnavailable);
  CHECK(IsRetryable(refused.error()));
  std::vector<std::chrono::milliseconds> waits;
  auto outcome = Retried(*forge, spec, Policy(3), waits);
  CHECK(outcome.attempts == 3);
  CHECK_FALSE(outcome.result);

  // Accepts connections (the kernel's backlog) and never answers.
  boost::asio::io_context ioc;
  boost::asio::ip::tcp::acceptor silent(ioc, {boost::asio::ip::make_address("127.0.0.1"), 0});
  spec.api_base = "http://127.0.0.1:" + std::to_string(silent.local_endpoint().port());
  const auto start = std::chrono::steady_clock::now();
  auto timed_out = forge->OpenPullRequest(spec);
  REQUIRE_FALSE(timed_out);
  CHECK(timed_out.error().code == ErrorCode::kUnavailable);
  CHECK(std::chrono::steady_clock::now() - start < 5s);
}

TEST_CASE("forge: a spec without its parts is refused before any call", "[publish]") {
  ForgeFixture f;
  PullRequestSpec spec = f.Spec();
  spec.title = "";
  CHECK(f.forge->OpenPullRequest(spec).error().code == ErrorCode::kBadRequest);
  CHECK(f.fake.Requests().empty());
}

TEST_CASE("retry delay: exponential, capped, jitter only shortens, none after the last",
          "[publish]") {
  RetryPolicy p{
      .max_attempts = 6, .first_delay = 1s, .factor = 2.0, .max_delay = 5s, .jitter = 0.5};
  CHECK(RetryDelay(p, 1) == 1s);
  CHECK(RetryDelay(p, 2) == 2s);
  CHECK(RetryDelay(p, 3) == 4s);
  CHECK(RetryDelay(p, 4) == 5s);
  CHECK(RetryDelay(p, 5) == 5s);
  CHECK(RetryDelay(p, 6) == std::nullopt);
  CHECK(RetryDelay(p, 0) == std::nullopt);
  CHECK(RetryDelay(p, 3, 0.999) > 2000ms);
  CHECK(RetryDelay(p, 3, 1.0) == 2s);
  CHECK(RetryDelay(p, 3, 7.0) == 2s);  // out of range: clamped
  p.max_attempts = 1000;
  CHECK(RetryDelay(p, 999) == 5s);
}

TEST_CASE("pull request opener: retries on the owner's timers, answers on the owner thread",
          "[publish]") {
  ForgeFixture f;
  f.fake.FailNext(2, 503);
  boost::asio::io_context owner;
  std::vector<std::chrono::milliseconds> waits;
  PullRequestOpener opener(owner, *f.forge, Policy(),
                           [&](std::chrono::milliseconds d, std::function<void()> then) {
                             waits.push_back(d);
                             boost::asio::post(owner, std::move(then));
                           });
  const auto owner_thread = std::this_thread::get_id();
  std::optional<PullRequestOutcome> outcome;
  std::vector<int> retried;
  opener.Open(
      f.Spec(),
      [&](PullRequestOutcome o) {
        CHECK(std::this_thread::get_id() == owner_thread);
        outcome = std::move(o);
      },
      [&](int attempts, const Error& e, std::chrono::milliseconds) {
        CHECK(e.code == ErrorCode::kUnavailable);
        retried.push_back(attempts);
      });
  CHECK(opener.pending() == 1);
  REQUIRE(testing::RunUntil(
      owner, [&] { return outcome.has_value(); }, 10s));
  REQUIRE(outcome->result);
  CHECK(outcome->attempts == 3);
  CHECK(outcome->result->number == 1);
  CHECK(retried == std::vector<int>{1, 2});
  REQUIRE(waits.size() == 2);
  CHECK(waits[0] <= 100ms);
  CHECK(waits[0] >= 80ms);
  CHECK(waits[1] >= 160ms);
  CHECK(opener.pending() == 0);
}

TEST_CASE("pull request opener: after Stop nothing is called", "[publish]") {
  ForgeFixture f;
  f.fake.FailNext(1, 502);
  boost::asio::io_context owner;
  bool called = false;
  {
    PullRequestOpener opener(owner, *f.forge, Policy());
    opener.Open(f.Spec(), [&](PullRequestOutcome) { called = true; });
    // The first attempt fails and its retry waits on a real timer of 80-100 ms.
    REQUIRE(testing::WaitUntil([&] { return !f.fake.Requests().empty(); }, 5s));
    opener.Stop();
  }
  owner.run_for(300ms);
  CHECK_FALSE(called);
  CHECK(f.fake.PullRequests().empty());
}

TEST_CASE("fake forge: token or Bearer, GitHub-shaped errors, switches over HTTP", "[publish]") {
  ForgeFixture f;
  auto send = [&](std::string method, std::string path, std::string auth, std::string body = "") {
    HttpCall call{.method = std::move(method), .url = f.fake.url() + path, .body = std::move(body)};
    if (!auth.empty()) call.headers = {{"Authorization", auth}};
    auto r = SendHttp(call);
    REQUIRE(r);
    return *r;
  };
  const std::string create = R"({"title":"t","head":"octo:feature","base":"main"})";
  HttpReply made =
      send("POST", "/repos/octo/widgets/pulls", std::string("token ") + kToken, create);
  CHECK(made.status == 201);
  json::object pr = json::parse(made.body).as_object();
  for (const char* key : {"number", "html_url", "url", "state", "title", "head", "base", "body"}) {
    CHECK(pr.contains(key));
  }
  CHECK(pr.at("head").at("ref") == "feature");
  CHECK(pr.at("state") == "open");

  HttpReply dup =
      send("POST", "/repos/octo/widgets/pulls", std::string("Bearer ") + kToken, create);
  CHECK(dup.status == 422);
  json::object err = json::parse(dup.body).as_object();
  CHECK(err.at("message") == "Validation Failed");
  CHECK(err.at("errors").at(0).at("message") == "A pull request already exists for octo:feature.");

  HttpReply anonymous = send("POST", "/repos/octo/widgets/pulls", "", create);
  CHECK(anonymous.status == 401);
  CHECK(json::parse(anonymous.body).at("message") == "Requires authentication");
  CHECK(json::parse(anonymous.body).as_object().contains("documentation_url"));

  HttpReply missing =
      send("POST", "/repos/octo/widgets/pulls", std::string("token ") + kToken, R"({"head":"x"})");
  CHECK(missing.status == 422);
  CHECK(send("POST", "/repos/octo/widgets/pulls", std::string("token ") + kToken, "{").status ==
        400);

  HttpReply listed = send("GET", "/repos/octo/widgets/pulls?head=octo:feature&state=open",
                          std::string("token ") + kToken);
  CHECK(json::parse(listed.body).as_array().size() == 1);
  CHECK(json::parse(
            send("GET", "/repos/octo/widgets/pulls?head=octo:other", std::string("token ") + kToken)
                .body)
            .as_array()
            .empty());
  // Closed, it no longer stands in the way of a new one.
  CHECK(send("PATCH", "/repos/octo/widgets/pulls/1", std::string("token ") + kToken,
             R"({"state":"closed"})")
            .status == 200);
  CHECK(send("POST", "/repos/octo/widgets/pulls", std::string("token ") + kToken, create).status ==
        201);

  CHECK(send("POST", "/__fail?count=1&status=503", "").status == 200);
  CHECK(send("GET", "/repos/octo/widgets/pulls", std::string("token ") + kToken).status == 503);
  CHECK(send("GET", "/repos/octo/widgets/pulls", std::string("token ") + kToken).status == 200);
  CHECK(json::parse(send("GET", "/__pulls", "").body).as_array().size() == 2);
}

}  // namespace autovibe
