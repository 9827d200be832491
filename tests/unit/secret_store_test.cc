// The controller's secrets on disk (controller/secrets/secret_store.h), in a real temp dir:
// private modes checked with stat, whole-or-nothing writes, and bad input that writes nothing.
#include "controller/secrets/secret_store.h"

#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <set>

#include "common/core/files.h"
#include "tests/support/catch_result.h"
#include "tests/support/process.h"
#include "tests/unit/manual_clock.h"

namespace autovibe {
namespace {

namespace fs = std::filesystem;
using testing::ManualClock;
using testing::TempDir;

mode_t ModeOf(const std::string& path) {
  struct stat st {};
  REQUIRE(::lstat(path.c_str(), &st) == 0);
  return st.st_mode & 07777;
}

ino_t InodeOf(const std::string& path) {
  struct stat st {};
  REQUIRE(::lstat(path.c_str(), &st) == 0);
  return st.st_ino;
}

std::set<std::string> Entries(const std::string& dir) {
  std::set<std::string> out;
  for (const auto& e : fs::directory_iterator(dir)) out.insert(e.path().filename().string());
  return out;
}

struct StoreFixture {
  TempDir tmp{"av-secrets"};
  ManualClock clock;
  std::string dir = tmp / "secrets";
  std::unique_ptr<SecretStore> store = Open();

  std::unique_ptr<SecretStore> Open() {
    auto s = SecretStore::Open(dir, clock);
    REQUIRE(s);
    return std::move(*s);
  }
};

}  // namespace

TEST_CASE("secret store: values kept readable by the owner only, the directory 0700", "[secrets]") {
  const mode_t old_umask = ::umask(0);  // what a careless service manager might set
  StoreFixture t;
  ::umask(old_umask);
  CHECK(ModeOf(t.dir) == 0700);

  auto put = t.store->Put("github-token", "ghp_abc123");
  REQUIRE(put);
  CHECK(put->created);
  CHECK(put->info.name == "github-token");
  CHECK(put->info.size == 10);
  CHECK(ModeOf(t.dir + "/github-token") == 0600);
  CHECK(t.store->Get("github-token").value() == "ghp_abc123");
  CHECK(Entries(t.dir) == std::set<std::string>{"github-token"});
}

TEST_CASE("secret store: an existing directory open to others is made private", "[secrets]") {
  TempDir tmp{"av-secrets"};
  const std::string dir = tmp / "secrets";
  REQUIRE(MakeDirs(dir, 0755));
  REQUIRE(ModeOf(dir) == 0755);
  ManualClock clock;
  REQUIRE(SecretStore::Open(dir, clock));
  CHECK(ModeOf(dir) == 0700);
}

TEST_CASE("secret store: a replace is a new file renamed over the old, times kept right",
          "[secrets]") {
  StoreFixture t;
  const int64_t t0 = t.clock.now;
  REQUIRE(t.store->Put("deploy-key", "first"));
  const std::string path = t.dir + "/deploy-key";
  const ino_t before = InodeOf(path);
  t.clock.now += 60'000;
  auto put = t.store->Put("deploy-key", "second value");
  REQUIRE(put);
  CHECK_FALSE(put->created);
  // rename(2) put a whole new file in place: a reader saw the old value or the new one.
  CHECK(InodeOf(path) != before);
  CHECK(ModeOf(path) == 0600);
  CHECK(t.store->Get("deploy-key").value() == "second value");
  auto list = t.store->List();
  REQUIRE(list);
  REQUIRE(list->size() == 1);
  CHECK(list->at(0).created_at_ms == t0);
  CHECK(list->at(0).updated_at_ms == t0 + 60'000);
  CHECK(list->at(0).size == 12);
  CHECK(Entries(t.dir) == std::set<std::string>{"deploy-key"});  // no temp file left
}

TEST_CASE("secret store: a crash mid-write leaves the old value and no trace after a restart",
          "[secrets]") {
  StoreFixture t;
  REQUIRE(t.store->Put("token", "old"));
  {
    // What a crash between the temp file's write and its rename leaves behind.
    std::ofstream(t.dir + "/.tmp-token") << "autovibe-secret 1 1 2\nhalf-writ";
  }
  CHECK(t.store->List().value().size() == 1);
  auto reopened = t.Open();
  CHECK(Entries(t.dir) == std::set<std::string>{"token"});
  CHECK(reopened->Get("token").value() == "old");
}

TEST_CASE("secret store: bad names are refused and write nothing", "[secrets]") {
  StoreFixture t;
  const std::string long_name(65, 'a');
  for (const std::string& bad :
       {std::string(), std::string(".hidden"), std::string("../escape"), std::string("a/b"),
        std::string("with space"), std::string("tab\t"), std::string("é"), long_name,
        std::string(".."), std::string("."), std::string("nul\0x", 5)}) {
    INFO("name \"" << bad << "\"");
    auto put = t.store->Put(bad, "v");
    REQUIRE_FALSE(put);
    CHECK(put.error().code == ErrorCode::kBadRequest);
    CHECK_FALSE(t.store->Get(bad));
    CHECK(t.store->Delete(bad).error().code == ErrorCode::kBadRequest);
  }
  CHECK(Entries(t.dir).empty());
  CHECK(Entries(t.tmp.path()) == std::set<std::string>{"secrets"});
  // The longest and oddest names that are fine.
  CHECK(t.store->Put(std::string(64, 'z'), "v"));
  CHECK(t.store->Put("A.b_c-9", "v"));
  CHECK(t.store->List().value().size() == 2);
}

TEST_CASE("secret store: a value over 64 KiB is refused and the old one stays", "[secrets]") {
  StoreFixture t;
  CHECK(t.store->Put("big", std::string(kMaxSecretBytes, 'x')));
  CHECK(t.store->Put("kept", "small"));
  auto put = t.store->Put("kept", std::string(kMaxSecretBytes + 1, 'y'));
  REQUIRE_FALSE(put);
  CHECK(put.error().code == ErrorCode::kTooLarge);
  CHECK(t.store->Put("new", std::string(kMaxSecretBytes + 1, 'y')).error().code ==
        ErrorCode::kTooLarge);
  CHECK(t.store->Get("kept").value() == "small");
  CHECK(Entries(t.dir) == std::set<std::string>{"big", "kept"});
}

TEST_CASE("secret store: list gives names, sizes and times in name order, delete", "[secrets]") {
  StoreFixture t;
  REQUIRE(t.store->Put("zeta", "1"));
  t.clock.now += 1000;
  REQUIRE(t.store->Put("alpha", std::string("bin\0ary\n", 8)));
  auto list = t.store->List();
  REQUIRE(list);
  REQUIRE(list->size() == 2);
  CHECK(list->at(0).name == "alpha");
  CHECK(list->at(0).size == 8);
  CHECK(list->at(1).name == "zeta");
  CHECK(t.store->Get("alpha").value() == std::string("bin\0ary\n", 8));

  REQUIRE(t.store->Delete("zeta"));
  CHECK(t.store->Get("zeta").error().code == ErrorCode::kNotFound);
  CHECK(t.store->Delete("zeta").error().code == ErrorCode::kNotFound);
  CHECK(Entries(t.dir) == std::set<std::string>{"alpha"});
}

TEST_CASE("secret store: files that are not secrets are not read as ones", "[secrets]") {
  StoreFixture t;
  REQUIRE(t.store->Put("real", "v"));
  std::ofstream(t.dir + "/stray") << "not a secret";
  REQUIRE(::symlink("/etc/passwd", (t.dir + "/linked").c_str()) == 0);
  auto list = t.store->List();
  REQUIRE(list);
  REQUIRE(list->size() == 1);
  CHECK(list->at(0).name == "real");
  CHECK(t.store->Get("stray").error().code == ErrorCode::kCorrupt);
  CHECK(t.store->Get("linked").error().code == ErrorCode::kCorrupt);
}

}  // namespace autovibe
