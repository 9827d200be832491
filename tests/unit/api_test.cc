#include "controller/api/api.h"

#include <boost/json.hpp>
#include <catch2/catch.hpp>

#include "tests/support/process.h"

using namespace autovibe;
using autovibe::testing::TempDir;

namespace {

struct Fixture {
  TempDir dir;
  std::unique_ptr<Store> store = *OpenSqliteStore(dir / "c.db");
  SystemClock clock;
  Fleet fleet{*store, clock, FleetOptions{}};
  Api api{ApiDeps{&fleet, nullptr, nullptr, "secret-token-0123456789"}};

  HttpResponse Get(const std::string& path,
                   const std::string& auth = "Bearer secret-token-0123456789",
                   const std::string& method = "GET") {
    HttpRequest r;
    r.method = method;
    r.target = path;
    r.path = path;
    r.authorization = auth;
    return api.Handle(r);
  }
};

std::string ErrorCodeOf(const HttpResponse& r) {
  return std::string(boost::json::parse(r.body).at("error").at("code").as_string());
}

}  // namespace

TEST_CASE("the API wants the admin token, except for healthz and metrics") {
  Fixture f;
  CHECK(f.Get("/healthz", "").status == 200);
  CHECK(f.Get("/metrics", "").status == 200);
  for (const char* auth : {"", "Bearer", "Bearer ", "Bearer wrong", "Basic secret-token-0123456789",
                           "Bearer secret-token-012345678", "bearer secret-token-0123456789"}) {
    INFO(auth);
    auto r = f.Get("/v1/machines", auth);
    CHECK(r.status == 401);
    CHECK(ErrorCodeOf(r) == "unauthorized");
  }
  CHECK(f.Get("/v1/machines").status == 200);
}

TEST_CASE("machines list and show have the documented shape") {
  Fixture f;
  MachineRegistration req{.name = "alpha", .tools = {"shell"}};
  req.resources.cpu_cores = 2;
  const std::string id = f.fleet.Register(req).machine_id;
  auto list = boost::json::parse(f.Get("/v1/machines").body);
  REQUIRE(list.at("machines").as_array().size() == 1);
  auto m = list.at("machines").at(0).as_object();
  for (const char* key : {"id", "name", "backend", "state", "labels", "tools", "resources",
                          "agent_version", "last_heartbeat_at", "registered_at"}) {
    CHECK(m.contains(key));
  }
  for (const char* key : {"cpu_cores", "mem_total_bytes", "mem_used_bytes", "disk_total_bytes",
                          "disk_free_bytes", "load1"}) {
    CHECK(m.at("resources").as_object().contains(key));
  }
  CHECK(m.at("state").as_string() == "ready");
  auto one = f.Get("/v1/machines/" + id);
  CHECK(one.status == 200);
  CHECK(boost::json::parse(one.body).at("id").as_string() == id);
}

TEST_CASE("unknown routes, ids and methods get JSON errors and are counted") {
  Fixture f;
  auto missing = f.Get("/v1/machines/m-nope");
  CHECK(missing.status == 404);
  CHECK(ErrorCodeOf(missing) == "not_found");
  CHECK(f.Get("/v1/nothing").status == 404);
  CHECK(f.Get("/nothing").status == 404);
  CHECK(f.Get("/").status == 200);  // the dashboard
  auto wrong = f.Get("/v1/machines", "Bearer secret-token-0123456789", "PATCH");
  CHECK(wrong.status == 405);
  CHECK(f.api.metrics().requests.at({"/v1/machines/{id}", 404}) == 1);
  CHECK(f.api.metrics().requests.at({"/v1/machines", 405}) == 1);
  auto metrics = f.Get("/metrics", "").body;
  CHECK(metrics.find("autovibe_api_requests_total{route=\"/v1/machines\",status=\"405\"} 1") !=
        std::string::npos);
  CHECK(metrics.find("autovibe_machines{state=\"ready\"} 0") != std::string::npos);
}

namespace {

struct NoAgents final : TaskCommands, TaskObserver {
  void RunTask(const TaskRecord&, std::function<void(AssignAnswer)>) override {}
  void CancelTask(const std::string&, const std::string&, const std::string&, Duration) override {}
  void PauseTask(const std::string&, const std::string&, const std::string&, Duration) override {}
  void TaskChanged(const TaskRecord&) override {}
  void TaskLogged(const TaskRecord&, const TaskLogChunk&) override {}
  void MachineBusy(const std::string&, bool) override {}
};

// The task routes over a real task book, committing as the controller does.
struct TasksFixture : Fixture {
  NoAgents agents;
  TaskBook book{TaskBookDeps{store.get(), &clock, &agents, &agents}, TaskBookOptions{}};
  TaskFollowers followers{&fleet};
  TasksApi tasks{TasksApiDeps{&book, &fleet, &followers, [this]() -> Result<void> {
                                if (!store->InTransaction()) return {};
                                return store->Commit();
                              }}};
  Api api{ApiDeps{&fleet, nullptr, nullptr, "secret-token-0123456789", &tasks, &book}};

  HttpResponse Post(const std::string& path, const std::string& body) {
    HttpRequest r;
    r.method = "POST";
    r.target = path;
    r.path = path;
    r.body = body;
    r.authorization = "Bearer secret-token-0123456789";
    return api.Handle(r);
  }
};

}  // namespace

TEST_CASE("a write the database refuses answers 503 and changes nothing") {
  TasksFixture f;
  REQUIRE(f.Post("/v1/projects", R"({"name":"demo"})").status == 201);
  const std::string task = R"({"project":"demo","tool":"shell","command":["true"]})";
  REQUIRE(f.Post("/v1/tasks", task).status == 201);
  REQUIRE(f.store->RefuseWritesForTest(true));
  auto refused = f.Post("/v1/tasks", task);
  CHECK(refused.status == 503);
  CHECK(ErrorCodeOf(refused) == "store");
  auto project = f.Post("/v1/projects", R"({"name":"other"})");
  CHECK(project.status == 503);
  REQUIRE(f.store->RefuseWritesForTest(false));
  // What the API lists is what the database holds: one task, one project.
  auto listed = boost::json::parse(f.api
                                       .Handle({.method = "GET",
                                                .target = "/v1/tasks",
                                                .path = "/v1/tasks",
                                                .authorization = "Bearer secret-token-0123456789"})
                                       .body);
  CHECK(listed.at("tasks").as_array().size() == 1);
  TaskBook fresh{TaskBookDeps{f.store.get(), &f.clock, &f.agents, &f.agents}, TaskBookOptions{}};
  REQUIRE(fresh.Load());
  CHECK(fresh.List("", std::nullopt, 100).size() == 1);
  CHECK(fresh.Projects().size() == 1);
  CHECK(f.book.Projects().size() == 1);
}
