// GET /v1/events and `autovibe events` on a real controller, nats-server and agent: a follower
// sees every state change in the order it happened and resumes after an id; a token sees only
// its projects' events; bad queries are refused; a reader that never reads is dropped with
// where to resume while the controller goes on answering.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <boost/json.hpp>
#include <catch2/catch.hpp>
#include <fstream>
#include <sstream>
#include <thread>

#include "common/core/files.h"
#include "tests/integration/token_roles_fleet.h"
#include "tests/support/catch_result.h"
#include "tests/support/fleet_harness.h"
#include "tests/support/nats_server.h"
#include "tests/support/task_client.h"

using namespace autovibe;
using namespace autovibe::testing;
using namespace std::chrono_literals;
namespace json = boost::json;

namespace {

std::string Str(const json::value& v) { return v.is_string() ? std::string(v.as_string()) : ""; }

// The data of each event of an SSE body, and the name of each ("dropped" has no id).
struct Sse {
  std::vector<std::string> names;
  std::vector<json::object> data;
};

Sse ParseSse(const std::string& body) {
  Sse out;
  std::istringstream in(body);
  std::string line, name;
  while (std::getline(in, line)) {
    if (line.starts_with("event: ")) name = line.substr(7);
    if (!line.starts_with("data: ")) continue;
    out.names.push_back(name);
    out.data.push_back(json::parse(line.substr(6)).as_object());
  }
  return out;
}

// The JSON lines `autovibe events --json` printed.
std::vector<json::object> JsonLines(const std::string& text) {
  std::vector<json::object> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    boost::system::error_code ec;
    json::value v = json::parse(line, ec);
    if (!ec && v.is_object()) out.push_back(v.as_object());
  }
  return out;
}

std::vector<std::string> KindsOf(const std::vector<json::object>& events,
                                 const std::string& object) {
  std::vector<std::string> out;
  for (const auto& e : events) {
    if (Str(e.at("object")) == object) out.push_back(Str(e.at("kind")));
  }
  return out;
}

int64_t LastId(ControllerProcess& c) {
  auto r = c.Call("GET", "/v1/events?follow=false");
  REQUIRE(r);
  REQUIRE(r->status == 200);
  auto sse = ParseSse(r->body);
  return sse.data.empty() ? 0 : sse.data.back().at("id").as_int64();
}

std::vector<std::string> CliArgs(ControllerProcess& c, std::vector<std::string> args) {
  args.insert(args.begin(),
              {BinPath("autovibe"), "--controller", c.base_url(), "--token", c.token()});
  return args;
}

}  // namespace

TEST_CASE("a follower of the events sees each state change in order, and resumes after an id",
          "[events]") {
  TempDir dir;
  NatsServer nats(dir / "nats");
  ControllerProcess c(dir / "controller", nats.url(),
                      {"--heartbeat-interval", "200ms", "--heartbeat-ttl", "2s"});
  TaskClient tasks(c);
  AgentProcess agent("agent-1", dir / "agent-1", nats.url());
  REQUIRE(WaitUntil([&] { return c.MachineState("agent-1") == "ready"; }, 30s));
  // The machine's registration is one, once its write has committed (the fleet shows the
  // machine a moment before).
  int64_t before = 0;
  REQUIRE(WaitUntil(
      [&] {
        before = LastId(c);
        return before > 0;
      },
      10s));

  ChildProcess follower(CliArgs(c, {"--json", "events", "-f", "--since", std::to_string(before)}),
                        dir / "follower.out");
  tasks.CreateProject("demo");
  auto budget = c.Call("PUT", "/v1/projects/demo/budgets", std::nullopt,
                       R"({"budgets":[{"resource":"usd","limit":"5.00","period":"total"}]})");
  REQUIRE(budget);
  REQUIRE(budget->status == 200);
  const std::string task = tasks.SubmitShell("demo", {"sh", "-c", "echo hi > out.txt"});
  REQUIRE(tasks.WaitState(task, "succeeded"));

  std::vector<json::object> seen;
  const bool all_seen = WaitUntil(
      [&] {
        seen = JsonLines(follower.Log());
        return std::any_of(
                   seen.begin(), seen.end(),
                   [](const json::object& e) { return Str(e.at("kind")) == "checkpoint.taken"; }) &&
               !KindsOf(seen, task).empty() && KindsOf(seen, task).back() == "task.succeeded";
      },
      20s);
  INFO(follower.Log());
  REQUIRE(all_seen);
  CHECK(follower.Running());

  // In the order they happened, each once, all after --since.
  for (size_t i = 0; i < seen.size(); ++i) {
    CHECK(seen[i].at("id").as_int64() > (i == 0 ? before : seen[i - 1].at("id").as_int64()));
  }
  std::vector<std::string> kinds;
  for (const auto& e : seen) kinds.push_back(Str(e.at("kind")));
  auto at = [&](const std::string& k) { return std::find(kinds.begin(), kinds.end(), k); };
  REQUIRE(at("project.created") != kinds.end());
  REQUIRE(at("budget.limit_changed") != kinds.end());
  CHECK(at("project.created") < at("budget.limit_changed"));
  CHECK(at("budget.limit_changed") < at("task.submitted"));
  const std::vector<std::string> task_kinds = KindsOf(seen, task);
  CHECK(task_kinds.front() == "task.submitted");
  CHECK(std::find(task_kinds.begin(), task_kinds.end(), "task.running") < task_kinds.end() - 1);
  for (const auto& e : seen) {
    const std::string kind = Str(e.at("kind"));
    if (kind.starts_with("task.") || kind.starts_with("budget.") || kind == "project.created") {
      CHECK(Str(e.at("project")) == "demo");
    }
    if (kind == "checkpoint.taken") {
      CHECK(Str(e.at("project")) == "demo");
      CHECK(Str(e.at("task")) == task);
      CHECK(Str(e.at("object")).starts_with("cp-"));
      CHECK(e.at("data").at("trigger").is_string());
    }
    if (kind == "budget.limit_changed") CHECK(Str(e.at("data").at("by")) == "user");
  }

  // Resuming after an id gives what came after it, and nothing before.
  const int64_t mid = seen[seen.size() / 2].at("id").as_int64();
  ChildProcess since(CliArgs(c, {"--json", "events", "--since", std::to_string(mid)}),
                     dir / "since.out");
  REQUIRE(since.Wait(15s) == 0);
  auto after = JsonLines(since.Log());
  REQUIRE_FALSE(after.empty());
  CHECK(after.front().at("id").as_int64() == mid + 1);
  // The table form names the kind, project and object of each.
  ChildProcess table(CliArgs(c, {"events", "--kind", "task", "--project", "demo"}),
                     dir / "table.out");
  REQUIRE(table.Wait(15s) == 0);
  CHECK_THAT(table.Log(), Catch::Contains("task.succeeded  demo  " + task));
  CHECK_THAT(table.Log(), !Catch::Contains("project.created"));
  follower.Signal(SIGTERM);
  follower.Wait(10s);
}

TEST_CASE("a token sees only its projects' events, and bad event queries are refused",
          "[events][tokens]") {
  TokenRolesFleet f;
  auto events = [&](const std::string& who, const std::string& query) {
    Answer a = f.Call(who, "GET", "/v1/events?" + query);
    INFO(a.body.substr(0, 500));
    REQUIRE(a.status == 200);
    return ParseSse(a.body).data;
  };
  const auto scoped = events("viewer-alpha", "since=0&follow=false");
  REQUIRE_FALSE(scoped.empty());
  for (const auto& e : scoped) CHECK(Str(e.at("project")) == "alpha");
  CHECK(KindsOf(scoped, f.alpha.task).back() == "task.succeeded");
  const auto all = events("viewer-all", "since=0&follow=false");
  auto has = [](const std::vector<json::object>& list, const std::string& kind,
                const std::string& project) {
    return std::any_of(list.begin(), list.end(), [&](const json::object& e) {
      return Str(e.at("kind")) == kind && Str(e.at("project")) == project;
    });
  };
  CHECK(has(all, "machine.registered", ""));
  CHECK(has(all, "task.succeeded", "beta"));
  CHECK_FALSE(has(scoped, "machine.registered", ""));
  for (const auto& e : events("admin-all", "since=0&follow=false&kind=task,checkpoint")) {
    const std::string kind = Str(e.at("kind"));
    CHECK((kind.starts_with("task.") || kind.starts_with("checkpoint.")));
  }
  // A task's whole history, in order; another project's task has none to show.
  std::vector<std::string> history;
  for (const auto& e : events("viewer-alpha", "task=" + f.alpha.task + "&follow=false")) {
    history.push_back(Str(e.at("kind")));
  }
  REQUIRE(history.size() >= 4);
  CHECK(history.front() == "task.submitted");
  CHECK(history.back() == "checkpoint.taken");
  CHECK(std::find(history.begin(), history.end(), "task.running") != history.end());
  CHECK(events("viewer-alpha", "task=" + f.beta.task + "&follow=false").empty());
  // Another project's stream answers as one that does not exist.
  CHECK(f.Call("viewer-alpha", "GET", "/v1/events?project=beta&follow=false").status == 404);
  CHECK(f.Call("viewer-alpha", "GET", "/v1/events?project=ghost&follow=false").status == 404);

  const int64_t last = events("admin-all", "follow=false").back().at("id").as_int64();
  for (const char* bad : {"kind=Task", "kind=task%0Aevent:%20x", "since=-1", "since=abc",
                          "follow=maybe", "nope=1", "project="}) {
    Answer a = f.Call("admin-all", "GET", std::string("/v1/events?") + bad);
    INFO(bad << ": " << a.body);
    CHECK(a.status == 400);
    CHECK(a.code == "bad_request");
    CHECK_FALSE(a.message.empty());
  }
  CHECK(events("admin-all", "follow=false").back().at("id").as_int64() == last);

  Answer me = f.Call("viewer-alpha", "GET", "/v1/whoami");
  REQUIRE(me.status == 200);
  auto who = json::parse(me.body);
  CHECK(Str(who.at("name")) == "viewer-alpha");
  CHECK(Str(who.at("role")) == "viewer");
  CHECK(who.at("projects") == json::array{"alpha"});
  auto nobody = f.controller->Call("GET", "/v1/whoami", std::string("avt_wrong"));
  REQUIRE(nobody);
  CHECK(nobody->status == 401);
}

TEST_CASE("a reader of the events that never reads is dropped, and the controller goes on",
          "[events]") {
  TempDir dir;
  NatsServer nats(dir / "nats");
  {
    std::ofstream toml(dir / "controller.toml");
    toml << "events_reader_buffer = 8192\n";
  }
  ControllerProcess c(dir / "controller", nats.url(), {"--config", dir / "controller.toml"});

  // A client with a small receive window that sends its request and never reads.
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  int small = 4096;
  ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(c.port());
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  // HTTP/1.0: the body comes as it is (not chunked) and the connection closes at its end.
  const std::string req = "GET /v1/events HTTP/1.0\r\nHost: x\r\nAuthorization: Bearer " +
                          c.token() + "\r\nLast-Event-ID: 0\r\n\r\n";
  REQUIRE(::send(fd, req.data(), req.size(), 0) == static_cast<ssize_t>(req.size()));

  const std::string log_path = dir / ("controller-" + std::to_string(c.port()) + ".log");
  auto dropped = [&] {
    auto log = ReadFile(log_path);
    return log && log->find("events feed dropped a reader") != std::string::npos;
  };
  // Projects made by four clients at once (each answer waits for its commit), until the
  // controller has dropped the reader.
  std::atomic<int> made{0}, refused{0};
  int projects = 0;
  REQUIRE(WaitUntil(
      [&] {
        std::vector<std::thread> clients;
        for (int t = 0; t < 4; ++t) {
          clients.emplace_back([&, first = projects + t * 25] {
            for (int i = first; i < first + 25; ++i) {
              auto r = c.Call("POST", "/v1/projects", std::nullopt,
                              "{\"name\":\"p" + std::to_string(i) + "\"}");
              (r && r->status == 201 ? made : refused)++;
            }
          });
        }
        for (auto& t : clients) t.join();
        projects += 100;
        return dropped();
      },
      120s));
  CHECK(refused == 0);
  INFO(made << " projects made");
  // The controller answered all along, and answers now.
  CHECK(c.Call("GET", "/v1/projects")->status == 200);

  // What the stuck reader gets when it reads at last: the events up to where it was dropped,
  // then the last event, naming that id.
  timeval wait{.tv_sec = 10, .tv_usec = 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &wait, sizeof wait);
  std::string got;
  char buf[65536];
  for (;;) {
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    got.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  auto sse = ParseSse(got.substr(std::min(got.size(), got.find("\r\n\r\n") + 4)));
  REQUIRE(sse.names.size() >= 2);
  CHECK(sse.names.back() == "dropped");
  const int64_t last_id = sse.data.back().at("last_id").as_int64();
  CHECK(sse.data[sse.data.size() - 2].at("id").as_int64() == last_id);
  CHECK(Str(sse.data[sse.data.size() - 2].at("kind")) == "project.created");
  // Resuming there gives the rest.
  auto rest = c.Call("GET", "/v1/events?follow=false&since=" + std::to_string(last_id));
  REQUIRE(rest);
  auto more = ParseSse(rest->body).data;
  REQUIRE_FALSE(more.empty());
  CHECK(more.front().at("id").as_int64() == last_id + 1);
  CHECK(more.back().at("id").as_int64() > last_id);
  CHECK(Str(more.back().at("kind")) == "project.created");
}
