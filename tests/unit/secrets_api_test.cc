// PUT/GET/DELETE /v1/secrets through the controller's API (controller/api/secrets_api.h) over
// a real secrets directory: every route, bad input, and the value in no answer and no log line.
#include "controller/api/secrets_api.h"

#include <boost/json.hpp>
#include <catch2/catch.hpp>
#include <filesystem>

#include "controller/api/api.h"
#include "tests/support/catch_result.h"
#include "tests/support/process.h"
#include "tests/unit/captured_log.h"
#include "tests/unit/manual_clock.h"

namespace autovibe {
namespace {

namespace json = boost::json;
using testing::CapturedLog;
using testing::ManualClock;
using testing::TempDir;

constexpr const char* kToken = "admin-token-0123456789";
// A value no answer or log line may hold.
constexpr const char* kValue = "ghp_SuperSecretValue_4242";

struct Fixture {
  TempDir dir{"av-secrets-api"};
  std::unique_ptr<Store> store = *OpenSqliteStore(dir / "c.db");
  ManualClock clock;
  Fleet fleet{*store, clock, FleetOptions{}};
  std::unique_ptr<SecretStore> secrets = *SecretStore::Open(dir / "secrets", clock);
  SecretsApi secrets_api{{secrets.get()}};
  Api api{MakeDeps()};
  std::vector<std::string> answers;  // every body answered

  ApiDeps MakeDeps() {
    ApiDeps d{&fleet, nullptr, nullptr, kToken};
    d.secrets_api = &secrets_api;
    return d;
  }

  HttpResponse Call(const std::string& method, const std::string& path, std::string body = "",
                    std::string auth = std::string("Bearer ") + kToken) {
    HttpRequest r;
    r.method = method;
    r.target = path;
    r.path = path;
    r.authorization = std::move(auth);
    r.content_type = "application/json";
    r.body = std::move(body);
    HttpResponse res = api.Handle(r);
    answers.push_back(res.body);
    for (const auto& [k, v] : res.headers) answers.push_back(k + ": " + v);
    return res;
  }

  HttpResponse Put(const std::string& name, const std::string& value) {
    return Call("PUT", "/v1/secrets/" + name, json::serialize(json::object{{"value", value}}));
  }
};

std::string CodeOf(const HttpResponse& r) {
  return std::string(json::parse(r.body).at("error").at("code").as_string());
}

}  // namespace

TEST_CASE("secrets API: set, replace, list and delete, no answer holds a value", "[secrets]") {
  CapturedLog log;
  Fixture f;
  HttpResponse made = f.Put("gh", kValue);
  REQUIRE(made.status == 201);
  json::object o = json::parse(made.body).as_object();
  CHECK(o.at("name").as_string() == "gh");
  CHECK(o.at("size").to_number<int64_t>() == static_cast<int64_t>(std::strlen(kValue)));
  CHECK(o.at("created_at").as_string() == FormatRfc3339(f.clock.now));
  CHECK(o.at("updated_at").as_string() == FormatRfc3339(f.clock.now));
  CHECK(f.secrets->Get("gh").value() == kValue);  // the controller can use it

  const int64_t created = f.clock.now;
  f.clock.now += 5000;
  HttpResponse replaced = f.Put("gh", std::string(kValue) + "-v2");
  REQUIRE(replaced.status == 200);
  CHECK(json::parse(replaced.body).at("created_at").as_string() == FormatRfc3339(created));
  CHECK(json::parse(replaced.body).at("updated_at").as_string() == FormatRfc3339(f.clock.now));
  REQUIRE(f.Put("deploy", std::string(kValue) + "-deploy").status == 201);

  HttpResponse list = f.Call("GET", "/v1/secrets");
  REQUIRE(list.status == 200);
  json::array secrets = json::parse(list.body).at("secrets").as_array();
  REQUIRE(secrets.size() == 2);
  CHECK(secrets[0].at("name").as_string() == "deploy");
  CHECK(secrets[1].at("name").as_string() == "gh");
  CHECK(secrets[1].at("size").to_number<int64_t>() ==
        static_cast<int64_t>(std::strlen(kValue) + 3));
  for (const auto& s : secrets) {
    std::set<std::string> keys;
    for (const auto& kv : s.as_object()) keys.insert(std::string(kv.key()));
    CHECK(keys == std::set<std::string>{"name", "size", "created_at", "updated_at"});
  }

  // There is no way to read a value back.
  CHECK(f.Call("GET", "/v1/secrets/gh").status == 405);
  CHECK(f.Call("GET", "/v1/secrets/gh/value").status == 404);

  HttpResponse deleted = f.Call("DELETE", "/v1/secrets/gh");
  REQUIRE(deleted.status == 200);
  CHECK(json::parse(deleted.body).at("deleted").as_string() == "gh");
  HttpResponse again = f.Call("DELETE", "/v1/secrets/gh");
  CHECK(again.status == 404);
  CHECK(CodeOf(again) == "not_found");
  CHECK(json::parse(f.Call("GET", "/v1/secrets").body).at("secrets").as_array().size() == 1);

  for (const std::string& a : f.answers) CHECK_THAT(a, !Catch::Contains("SuperSecretValue"));
  CHECK_THAT(log.text(), Catch::Contains("secret created name=gh"));
  CHECK_THAT(log.text(), !Catch::Contains("SuperSecretValue"));
}

TEST_CASE("secrets API: bad input is refused with a reason and changes nothing", "[secrets]") {
  CapturedLog log;
  Fixture f;
  REQUIRE(f.Put("kept", kValue).status == 201);
  const std::string v = std::string(R"({"value":")") + kValue + "\"";
  struct Bad {
    std::string method, path, body;
    int status;
    std::string code;
  };
  const std::vector<Bad> bad = {
      {"PUT", "/v1/secrets/kept", "not json " + std::string(kValue), 400, "bad_request"},
      {"PUT", "/v1/secrets/kept", v, 400, "bad_request"},  // unterminated
      {"PUT", "/v1/secrets/kept", "", 400, "bad_request"},
      {"PUT", "/v1/secrets/kept", "[\"" + std::string(kValue) + "\"]", 400, "bad_request"},
      {"PUT", "/v1/secrets/kept", R"({"value":42})", 400, "bad_request"},
      {"PUT", "/v1/secrets/kept", R"({"value":null})", 400, "bad_request"},
      {"PUT", "/v1/secrets/kept", R"({})", 400, "bad_request"},
      {"PUT", "/v1/secrets/kept", v + R"(,"extra":1})", 400, "bad_request"},
      {"PUT", "/v1/secrets/.hidden", v + "}", 400, "bad_request"},
      {"PUT", "/v1/secrets/" + std::string(65, 'n'), v + "}", 400, "bad_request"},
      {"PUT", "/v1/secrets/a b", v + "}", 400, "bad_request"},
      {"PUT", "/v1/secrets/kept",
       json::serialize(json::object{{"value", std::string(kMaxSecretBytes + 1, 'x')}}), 413,
       "too_large"},
      {"POST", "/v1/secrets", v + "}", 405, "method_not_allowed"},
      {"DELETE", "/v1/secrets", "", 405, "method_not_allowed"},
      {"POST", "/v1/secrets/kept", v + "}", 405, "method_not_allowed"},
      {"PATCH", "/v1/secrets/kept", v + "}", 405, "method_not_allowed"},
      {"DELETE", "/v1/secrets/nope", "", 404, "not_found"},
      {"DELETE", "/v1/secrets/..", "", 400, "bad_request"},
      {"PUT", "/v1/secrets/kept/more", v + "}", 404, "not_found"},
  };
  for (const Bad& b : bad) {
    INFO(b.method << " " << b.path << " " << b.body.substr(0, 80));
    HttpResponse r = f.Call(b.method, b.path, b.body);
    CHECK(r.status == b.status);
    CHECK(CodeOf(r) == b.code);
  }
  // Nothing changed: the one secret, its value, and no other file.
  auto list = f.secrets->List();
  REQUIRE(list);
  REQUIRE(list->size() == 1);
  CHECK(f.secrets->Get("kept").value() == kValue);
  CHECK(std::distance(std::filesystem::directory_iterator(f.dir / "secrets"),
                      std::filesystem::directory_iterator()) == 1);
  for (const std::string& a : f.answers) CHECK_THAT(a, !Catch::Contains("SuperSecretValue"));
  CHECK_THAT(log.text(), !Catch::Contains("SuperSecretValue"));
}

TEST_CASE("secrets API: every route wants the token", "[secrets]") {
  Fixture f;
  CHECK(f.Call("GET", "/v1/secrets", "", "").status == 401);
  CHECK(f.Call("PUT", "/v1/secrets/x", R"({"value":"v"})", "Bearer wrong").status == 401);
  CHECK(f.Call("DELETE", "/v1/secrets/x", "", "").status == 401);
  CHECK(f.secrets->List().value().empty());
}

}  // namespace autovibe
