// Which repository addresses, refs and branches a task may name (common/core/repo_url.h).
#include "common/core/repo_url.h"

#include <catch2/catch.hpp>

#include "tests/support/catch_result.h"

using namespace autovibe;

TEST_CASE("repository addresses: the forms git users write pass, the rest is refused", "[repo]") {
  struct Good {
    const char* text;
    RepoKind kind;
    const char* host;
  };
  for (const Good& g : {Good{"https://github.com/o/r.git", RepoKind::kHttps, "github.com"},
                        Good{"http://127.0.0.1:8080/o/r", RepoKind::kHttp, "127.0.0.1"},
                        Good{"ssh://git@example.org:2222/o/r.git", RepoKind::kSsh, "example.org"},
                        Good{"git@github.com:o/r.git", RepoKind::kSsh, "github.com"},
                        Good{"git://127.0.0.1:9418/acme/calc.git", RepoKind::kGit, "127.0.0.1"},
                        Good{"file:///srv/git/r.git", RepoKind::kLocal, ""},
                        Good{"/srv/git/r.git", RepoKind::kLocal, ""}}) {
    auto u = ParseRepoUrl(g.text);
    INFO(g.text);
    REQUIRE(u);
    CHECK(u->kind == g.kind);
    CHECK(u->host == g.host);
  }
  CHECK(ParseRepoUrl("file:///srv/git/r.git")->url == "/srv/git/r.git");
  for (const char* bad :
       {"", "ext::sh -c touch% /tmp/x", "--upload-pack=touch /tmp/x", "-oProxyCommand=x", "fd::17",
        "https://user:pw@example.org/r.git", "ssh://-oProxyCommand=x/r", "ssh://host",
        "git@-oProxyCommand=x:r", "host:-r", "relative/path", "/srv/../etc", "file://relative",
        "https://example.org/r .git", "https://exa\nmple.org/r", "ftp://example.org/r.git"}) {
    INFO(bad);
    auto u = ParseRepoUrl(bad);
    REQUIRE_FALSE(u);
    CHECK(u.error().code == ErrorCode::kBadUrl);
  }
}

TEST_CASE("local repositories only under the allowed roots", "[repo]") {
  auto u = ParseRepoUrl("/srv/git/team/r.git");
  REQUIRE(u);
  CHECK(CheckLocalRepo(*u, {"/srv/git"}));
  CHECK(CheckLocalRepo(*u, {"/srv/git/"}));
  CHECK_FALSE(CheckLocalRepo(*u, {"/srv/gi"}));
  CHECK_FALSE(CheckLocalRepo(*u, {}));
  CHECK(CheckLocalRepo(*u, {"/"}));
  // Remote addresses are not the roots' business.
  CHECK(CheckLocalRepo(*ParseRepoUrl("https://github.com/o/r"), {}));
}

TEST_CASE("refs and branch names: what git check-ref-format allows, no options", "[repo]") {
  for (const char* good : {"main", "v1.2.3", "feature/x-y", "0123456789abcdef"}) {
    INFO(good);
    CHECK(CheckRepoRef(good));
    CHECK(CheckBranchName(good));
  }
  for (const char* bad : {"", "-x", "--orphan", "a..b", "a b", "HEAD@{1}", "x~1", "x^", "a:b", "/a",
                          "a/", "a.lock", "a//b", "x\\y", "*"}) {
    INFO(bad);
    CHECK_FALSE(CheckRepoRef(bad));
    CHECK_FALSE(CheckBranchName(bad));
  }
}

TEST_CASE("a change's author reads Name <email>, one line", "[repo]") {
  auto a = ParseAuthor("Ada Lovelace <ada@example.org>");
  REQUIRE(a);
  CHECK(a->name == "Ada Lovelace");
  CHECK(a->email == "ada@example.org");
  for (const char* bad : {"", "Ada", "<ada@example.org>", "Ada <>", "Ada <a b@x>",
                          "Ada <ada@x>\nGIT_DIR=/etc", "Ada <ada@x> trailing", "A<b> <c@d>"}) {
    INFO(bad);
    CHECK_FALSE(ParseAuthor(bad));
  }
}
