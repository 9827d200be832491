// API tokens (controller/auth/token_book.h, controller/api/tokens_api.h) through the Api, over
// a real SQLite store: made, listed, used, expired and revoked; bad input refused with nothing
// changed; the secret kept nowhere but in the one answer that made it.
#include <sqlite3.h>

#include <boost/json.hpp>
#include <catch2/catch.hpp>

#include "common/core/files.h"
#include "controller/api/api.h"
#include "tests/support/catch_result.h"
#include "tests/support/process.h"
#include "tests/unit/manual_clock.h"

using namespace autovibe;
using autovibe::testing::ManualClock;
using autovibe::testing::TempDir;
namespace json = boost::json;

namespace {

constexpr const char* kBootstrap = "bootstrap-token-0123456789";

struct TokensFixture {
  TempDir dir{"av-tokens"};
  std::unique_ptr<Store> store = *OpenSqliteStore(dir / "c.db");
  ManualClock clock;
  Fleet fleet{*store, clock, FleetOptions{}};
  int commits = 0;
  TokenBook book{TokenBookDeps{&store->api_tokens(), &clock,
                               [](std::string_view p) { return p == "alpha" || p == "beta"; }}};
  TokensApi tokens_api{TokensApiDeps{&book, &clock, [this] {
                                       ++commits;
                                       return Result<void>();
                                     }}};
  std::unique_ptr<Api> api;

  TokensFixture() {
    REQUIRE(book.Load());
    ApiDeps d{&fleet, nullptr, nullptr, kBootstrap};
    d.tokens = &book;
    d.tokens_api = &tokens_api;
    api = std::make_unique<Api>(std::move(d));
  }

  HttpResponse Call(const std::string& method, const std::string& path, const std::string& body,
                    const std::string& token = kBootstrap) {
    HttpRequest r{.method = method, .target = path, .path = path, .body = body};
    r.authorization = "Bearer " + token;
    return api->Handle(r);
  }
  // POST /v1/tokens; the secret when it answered 201.
  std::string Create(const std::string& body) {
    auto r = Call("POST", "/v1/tokens", body);
    INFO(r.body);
    REQUIRE(r.status == 201);
    return std::string(json::parse(r.body).at("token").as_string());
  }
  json::array List() {
    auto r = Call("GET", "/v1/tokens", "");
    REQUIRE(r.status == 200);
    return json::parse(r.body).at("tokens").as_array();
  }
  int64_t Rows() {
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open_v2((dir / "c.db").c_str(), &db, SQLITE_OPEN_READONLY, nullptr) ==
            SQLITE_OK);
    sqlite3_stmt* st = nullptr;
    sqlite3_prepare_v2(db, "SELECT COUNT(*) FROM api_tokens", -1, &st, nullptr);
    int64_t n = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
    sqlite3_finalize(st);
    sqlite3_close(db);
    return n;
  }
};

std::string CodeOf(const HttpResponse& r) {
  return std::string(json::parse(r.body).at("error").at("code").as_string());
}
std::string MessageOf(const HttpResponse& r) {
  return std::string(json::parse(r.body).at("error").at("message").as_string());
}

}  // namespace

TEST_CASE("a token is shown once, listed without its secret, and works with its role", "[tokens]") {
  TokensFixture f;
  auto made = f.Call("POST", "/v1/tokens",
                     R"({"name":"ci","role":"operator","projects":["alpha"],"expires":"30d"})");
  INFO(made.body);
  REQUIRE(made.status == 201);
  CHECK(f.commits == 1);
  json::object o = json::parse(made.body).as_object();
  const std::string secret(o.at("token").as_string());
  CHECK(secret.starts_with("avt_"));
  CHECK(secret.size() == 4 + 64);
  CHECK(o.at("role") == "operator");
  CHECK(o.at("projects") == json::array{"alpha"});
  CHECK(o.at("expires_at").is_string());
  CHECK(o.at("last_used_at").is_null());

  json::array list = f.List();
  REQUIRE(list.size() == 1);
  CHECK(list[0].at("name") == "ci");
  CHECK(!list[0].as_object().contains("token"));
  CHECK(!list[0].as_object().contains("hash"));
  CHECK(json::serialize(list).find(secret.substr(4)) == std::string::npos);

  // The token names its caller; its role decides what it may do.
  HttpRequest r{.method = "GET", .target = "/v1/tokens", .path = "/v1/tokens"};
  r.authorization = "Bearer " + secret;
  auto caller = f.api->Authenticate(r);
  REQUIRE(caller);
  CHECK(caller->name == "ci");
  CHECK(caller->role == Role::kOperator);
  CHECK(caller->projects == std::vector<std::string>{"alpha"});
  auto refused = f.Call("GET", "/v1/tokens", "", secret);
  CHECK(refused.status == 403);
  CHECK(CodeOf(refused) == "forbidden");
  CHECK_THAT(MessageOf(refused), Catch::Contains("admin permission"));
  // Its use is noted.
  CHECK(f.List()[0].at("last_used_at").is_string());

  // Kept as a hash only: the database holds no secret, and a restart knows the token.
  for (const char* file : {"c.db", "c.db-wal"}) {
    auto bytes = ReadFile(f.dir / file);
    if (bytes) CHECK(bytes->find(secret.substr(4)) == std::string::npos);
  }
  TokenBook again{TokenBookDeps{&f.store->api_tokens(), &f.clock, nullptr}};
  REQUIRE(again.Load());
  auto found = again.Authenticate(secret);
  REQUIRE(found);
  CHECK((*found)->name == "ci");
}

TEST_CASE("an expired or revoked token gets 401, the bootstrap token stays", "[tokens]") {
  TokensFixture f;
  const std::string brief = f.Create(R"({"name":"brief","role":"viewer","expires":"1h"})");
  const std::string kept = f.Create(R"({"name":"kept","role":"admin"})");
  CHECK(f.Call("GET", "/v1/projects", "", brief).status != 401);
  f.clock.now += 3'600'000;
  auto expired = f.Call("GET", "/v1/machines", "", brief);
  CHECK(expired.status == 401);
  CHECK_THAT(MessageOf(expired), Catch::Contains("expired"));
  CHECK(f.List()[0].at("expired") == true);

  CHECK(f.Call("GET", "/v1/tokens", "", kept).status == 200);
  auto revoked = f.Call("DELETE", "/v1/tokens/kept", "");
  CHECK(revoked.status == 200);
  CHECK(f.Call("GET", "/v1/tokens", "", kept).status == 401);
  CHECK(f.Call("DELETE", "/v1/tokens/kept", "").status == 404);
  // The bootstrap token is no entry of the book: it cannot be revoked through the API.
  auto bootstrap = f.Call("DELETE", "/v1/tokens/admin", "");
  CHECK(bootstrap.status == 409);
  CHECK_THAT(MessageOf(bootstrap), Catch::Contains("admin.token"));
  CHECK(f.Call("GET", "/v1/tokens", "").status == 200);
  // A token that merely looks like one is refused.
  CHECK(f.Call("GET", "/v1/tokens", "", "avt_" + std::string(64, '0')).status == 401);
  CHECK(f.Call("GET", "/v1/tokens", "", kept.substr(4)).status == 401);
}

TEST_CASE("bad token requests get a clear 400, 409 or 413 and change nothing", "[tokens]") {
  TokensFixture f;
  f.Create(R"({"name":"taken","role":"viewer"})");
  const int commits = f.commits;
  struct Bad {
    std::string body;
    int status;
    std::string says;
  };
  const std::vector<Bad> bad = {
      {R"({"role":"viewer"})", 400, "\"name\""},
      {R"({"name":"","role":"viewer"})", 400, "token name"},
      {R"({"name":"has space","role":"viewer"})", 400, "token name"},
      {R"({"name":"-dash","role":"viewer"})", 400, "token name"},
      {R"({"name":")" + std::string(65, 'x') + R"(","role":"viewer"})", 400, "token name"},
      {R"({"name":"admin","role":"viewer"})", 400, "bootstrap"},
      {R"({"name":"controller","role":"viewer"})", 400, "audit log"},
      {R"({"name":"x","role":"root"})", 400, "admin, operator or viewer"},
      {R"({"name":"x"})", 400, "\"role\""},
      {R"({"name":"x","role":"viewer","expires":"30"})", 400, "duration"},
      {R"({"name":"x","role":"viewer","expires":"0s"})", 400, "duration"},
      {R"({"name":"x","role":"viewer","expires":"-1d"})", 400, "duration"},
      {R"({"name":"x","role":"viewer","expires":"3651d"})", 400, "3650d"},
      {R"({"name":"x","role":"viewer","expires":30})", 400, "duration"},
      {R"({"name":"x","role":"viewer","projects":["nope"]})", 400, "no project named nope"},
      {R"({"name":"x","role":"viewer","projects":["alpha","alpha"]})", 400, "twice"},
      {R"({"name":"x","role":"viewer","projects":[]})", 400, "non-empty"},
      {R"({"name":"x","role":"viewer","projects":"alpha"})", 400, "non-empty"},
      {R"({"name":"x","role":"viewer","projects":[1]})", 400, "project names"},
      {R"({"name":"x","role":"viewer","scope":"all"})", 400, "unknown field"},
      {R"({"name":"taken","role":"admin"})", 409, "exists"},
      {"not json", 400, "JSON"},
      {R"(["x"])", 400, "object"},
      {R"({"name":"x","role":"viewer","projects":[")" + std::string(20000, 'a') + R"("]})", 413,
       "16 KiB"},
  };
  for (const Bad& b : bad) {
    INFO(b.body.substr(0, 120));
    auto r = f.Call("POST", "/v1/tokens", b.body);
    CHECK(r.status == b.status);
    CHECK_THAT(MessageOf(r), Catch::Contains(b.says));
  }
  CHECK(f.List().size() == 1);
  CHECK(f.Rows() == 1);
  CHECK(f.commits == commits);
  // Tokens are an admin's: no other role (nor a scoped admin) makes one.
  for (const char* who : {R"({"name":"v","role":"viewer"})", R"({"name":"o","role":"operator"})",
                          R"({"name":"s","role":"admin","projects":["alpha"]})"}) {
    const std::string secret = f.Create(who);
    auto r = f.Call("POST", "/v1/tokens", R"({"name":"sneaky","role":"admin"})", secret);
    CHECK(r.status == 403);
    CHECK(f.Call("DELETE", "/v1/tokens/taken", "", secret).status == 403);
  }
  CHECK(f.List().size() == 4);
}
