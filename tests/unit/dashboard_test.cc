// The dashboard's files as the controller serves them: no token needed (the sign-in page must
// load) while the API still wants one, gzip when accepted, a strict Content-Security-Policy,
// assets named by their hash and kept, and a first load under 300 KB compressed.
#include <boost/json.hpp>
#include <catch2/catch.hpp>
#include <regex>

#include "common/core/time.h"
#include "controller/api/api.h"
#include "controller/dashboard/dashboard_files.h"
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

  HttpResponse Get(const std::string& path, const std::string& accept_encoding = "gzip, br",
                   const std::string& method = "GET") {
    HttpRequest r;
    r.method = method;
    r.target = path;
    r.path = path;
    if (!accept_encoding.empty()) r.headers.emplace_back("accept-encoding", accept_encoding);
    return api.Handle(r);
  }
};

std::string Header(const HttpResponse& r, std::string_view name) {
  for (const auto& [k, v] : r.headers) {
    if (k == name) return v;
  }
  return "";
}

// The assets the page names (src="/assets/..." and href="/assets/...").
std::vector<std::string> NamedAssets(const std::string& page) {
  std::vector<std::string> out;
  const std::regex asset(R"re((?:src|href)="(/assets/[^"]+)")re");
  for (std::sregex_iterator it(page.begin(), page.end(), asset), end; it != end; ++it) {
    out.push_back((*it)[1]);
  }
  return out;
}

}  // namespace

TEST_CASE("the dashboard's page loads without a token, while the API still wants one") {
  Fixture f;
  auto page = f.Get("/", "");
  REQUIRE(page.status == 200);
  CHECK(page.content_type == "text/html; charset=utf-8");
  CHECK(page.body.find("<div id=\"app\">") != std::string::npos);
  CHECK(f.Get("/index.html", "").status == 200);
  CHECK(f.Get("/v1/machines", "").status == 401);
}

TEST_CASE("the dashboard is sent compressed when the browser accepts gzip") {
  Fixture f;
  auto plain = f.Get("/", "");
  auto zipped = f.Get("/", "gzip, deflate, br");
  CHECK(Header(plain, "Content-Encoding").empty());
  CHECK(Header(zipped, "Content-Encoding") == "gzip");
  REQUIRE(zipped.body.size() > 2);
  CHECK(static_cast<unsigned char>(zipped.body[0]) == 0x1f);
  CHECK(static_cast<unsigned char>(zipped.body[1]) == 0x8b);
  CHECK(Header(zipped, "Vary") == "Accept-Encoding");
  CHECK(Header(f.Get("/", "gzip;q=0"), "Content-Encoding").empty());
  CHECK(Header(f.Get("/", "gzip;q=0.0"), "Content-Encoding").empty());
  CHECK(Header(f.Get("/", "br, gzip;q=0.000"), "Content-Encoding").empty());
  CHECK(Header(f.Get("/", "gzip;q=0.5"), "Content-Encoding") == "gzip");
}

TEST_CASE("the dashboard's files carry a strict CSP, nosniff, and cache headers by name") {
  Fixture f;
  auto page = f.Get("/");
  const std::string csp = Header(page, "Content-Security-Policy");
  CHECK(csp.find("script-src 'self'") != std::string::npos);
  CHECK(csp.find("default-src 'none'") != std::string::npos);
  CHECK(csp.find("unsafe-inline") == std::string::npos);
  CHECK(csp.find("http") == std::string::npos);  // no remote origin
  CHECK(Header(page, "X-Content-Type-Options") == "nosniff");
  CHECK(Header(page, "Cache-Control") == "no-cache");
  // No inline script in the page: every script is a file of its own.
  const std::string raw = f.Get("/", "").body;
  CHECK(std::regex_search(raw, std::regex("<script[^>]*src=")));
  CHECK_FALSE(std::regex_search(raw, std::regex("<script(?![^>]*src=)[^>]*>")));
  const auto assets = NamedAssets(raw);
  REQUIRE(assets.size() == 2);  // the script and the style
  for (const auto& a : assets) {
    INFO(a);
    auto r = f.Get(a);
    CHECK(r.status == 200);
    CHECK(Header(r, "Cache-Control") == "public, max-age=31536000, immutable");
    CHECK(std::regex_search(a, std::regex("-[A-Z0-9]{8}\\.(js|css)$")));
  }
}

TEST_CASE("the dashboard's first load is under 300 KB compressed") {
  Fixture f;
  auto page = f.Get("/");
  size_t total = page.body.size();
  for (const auto& a : NamedAssets(f.Get("/", "").body)) total += f.Get(a).body.size();
  INFO(total << " bytes");
  CHECK(total < 300 * 1024);
  CHECK(total > 1000);
}

TEST_CASE("a request for anything else of the dashboard is refused and changes nothing") {
  Fixture f;
  for (const char* path :
       {"/assets/nope.js", "/assets/../admin.token", "/assets/", "/assets/%2e%2e/controller.db"}) {
    INFO(path);
    auto r = f.Get(path);
    CHECK(r.status == 404);
    CHECK(Header(r, "Content-Encoding").empty());
  }
  CHECK(f.Get("/admin.token").status == 404);
  auto post = f.Get("/", "", "POST");
  CHECK(post.status == 405);
  CHECK(Header(post, "Allow") == "GET, HEAD");
  CHECK(f.Get("/", "", "DELETE").status == 405);
  CHECK(f.Get("/", "", "HEAD").status == 200);
  // The files listed are the page and what it names: nothing else is served.
  CHECK(DashboardFiles().size() == 3);
}
