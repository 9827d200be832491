// Which forge API serves a repository URL (controller/publish/forge_repo.h).
#include "controller/publish/forge_repo.h"

#include <catch2/catch.hpp>

#include "tests/support/catch_result.h"

namespace autovibe {

TEST_CASE("forge repo: GitHub URLs in every form git takes", "[publish]") {
  for (const char* url : {"https://github.com/octo/widgets", "https://github.com/octo/widgets.git",
                          "https://github.com/octo/widgets/", "git@github.com:octo/widgets.git",
                          "ssh://git@github.com/octo/widgets.git",
                          "https://x-access-token:ghp_t@github.com/octo/widgets",
                          "HTTPS://GitHub.com/octo/widgets"}) {
    INFO(url);
    auto r = ResolveForgeRepo(url);
    REQUIRE(r);
    CHECK(r->api_base == "https://api.github.com");
    CHECK(r->owner == "octo");
    CHECK(r->repo == "widgets");
  }
}

TEST_CASE("forge repo: another host is a Gitea or Forgejo with its API under /api/v1",
          "[publish]") {
  auto web = ResolveForgeRepo("https://git.example.com/team/app.git");
  REQUIRE(web);
  CHECK(web->api_base == "https://git.example.com/api/v1");
  CHECK(web->owner == "team");
  CHECK(web->repo == "app");
  auto ported = ResolveForgeRepo("http://127.0.0.1:3000/gitea/team/app");
  REQUIRE(ported);
  CHECK(ported->api_base == "http://127.0.0.1:3000/gitea/api/v1");
  auto ssh = ResolveForgeRepo("gitea@git.example.com:team/app.git");
  REQUIRE(ssh);
  CHECK(ssh->api_base == "https://git.example.com/api/v1");
  auto ssh_port = ResolveForgeRepo("ssh://git@git.example.com:2222/team/app.git");
  REQUIRE(ssh_port);
  CHECK(ssh_port->api_base == "https://git.example.com/api/v1");
}

TEST_CASE("forge repo: an explicit API base wins, and lets any URL name the repository",
          "[publish]") {
  for (const char* url :
       {"git://127.0.0.1:9418/octo/widgets.git", "file:///srv/git/octo/widgets.git",
        "/srv/git/octo/widgets", "https://github.com/octo/widgets"}) {
    INFO(url);
    auto r = ResolveForgeRepo(url, "http://127.0.0.1:8765/");
    REQUIRE(r);
    CHECK(r->api_base == "http://127.0.0.1:8765");
    CHECK(r->owner == "octo");
    CHECK(r->repo == "widgets");
  }
  CHECK(ResolveForgeRepo("https://github.com/o/r", "https://ghe.example.com/api/v3")->api_base ==
        "https://ghe.example.com/api/v3");
}

TEST_CASE("forge repo: what names no forge repository is refused with a reason", "[publish]") {
  const std::vector<std::pair<std::string, std::string>> bad = {
      {"", ""},
      {"ext::sh -c touch% /tmp/pwned", ""},
      {"--upload-pack=touch /tmp/pwned", ""},
      {"https://github.com/octo", ""},
      {"https://github.com/../widgets", ""},
      {"https://github.com/octo/wid%20gets", ""},
      {"ftp://example.com/octo/widgets", ""},
      {"/srv/git/octo/widgets", ""},  // local: no forge without an API base
      {"git://example.com/octo/widgets", ""},
      {"https://github.com/octo/widgets", "ftp://api.example.com"},
      {"https://github.com/octo/widgets", "https://api.example.com/?x=1"},
      {"https://github.com/octo/widgets", "https://user:pw@api.example.com"},
  };
  for (const auto& [url, api] : bad) {
    INFO(url << " api=" << api);
    auto r = ResolveForgeRepo(url, api);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == ErrorCode::kBadRequest);
    CHECK_FALSE(r.error().message.empty());
  }
}

TEST_CASE("forge repo: a token written in the URL is never repeated", "[publish]") {
  auto r = ResolveForgeRepo("https://x:ghp_SECRET@example.com/just-one");
  REQUIRE_FALSE(r);
  CHECK_THAT(r.error().message, !Catch::Contains("ghp_SECRET"));
  CHECK(RedactUrl("https://x:ghp_SECRET@example.com/o/r") == "https://***@example.com/o/r");
  CHECK(RedactUrl("git@github.com:o/r.git") == "git@github.com:o/r.git");
}

}  // namespace autovibe
