// The agent's own bus user (worker-agent/bus_join.h): the token's form, the file it keeps, and
// which user the agent starts with. Joining itself runs against a real bus in
// tests/integration/bus_auth_test.cc.
#include "worker-agent/bus_join.h"

#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <fstream>

#include "common/bus/subjects.h"
#include "tests/support/catch_result.h"
#include "tests/support/process.h"

using namespace autovibe;
using autovibe::testing::TempDir;

namespace {

mode_t ModeOf(const std::string& path) {
  struct stat st {};
  REQUIRE(stat(path.c_str(), &st) == 0);
  return st.st_mode & 0777;
}

}  // namespace

TEST_CASE("a join token is j-<12 hex>.<hex secret>, and a bad one is refused without echo",
          "[join]") {
  auto ok = SplitJoinToken("j-0123456789ab.deadbeef00");
  REQUIRE(ok);
  CHECK(ok->first == "j-0123456789ab");
  CHECK(ok->second == "deadbeef00");
  for (const char* bad : {"", "j-0123456789ab", "j-0123456789ab.", "m-0123456789ab.beef",
                          "j-0123.beef", "j-0123456789ab.SECRET-guess", "x.y.z"}) {
    INFO(bad);
    auto r = SplitJoinToken(bad);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == ErrorCode::kBadConfig);
    CHECK(r.error().message.find("SECRET-guess") == std::string::npos);
  }
}

TEST_CASE("the kept bus user is private, and made so again if loosened", "[join]") {
  TempDir dir;
  const std::string path = BusUserFile(dir.path());
  BusUser u{"m-0123456789ab", "m-0123456789ab", "s3cr3t\"quoted", {{"pool", "kvm"}}};
  REQUIRE(WriteBusUser(path, u));
  CHECK(ModeOf(path) == 0600);
  chmod(path.c_str(), 0644);
  auto back = ReadBusUser(path);
  REQUIRE(back);
  CHECK(ModeOf(path) == 0600);
  CHECK(back->machine_id == u.machine_id);
  CHECK(back->nats_password == u.nats_password);
  CHECK(back->labels == u.labels);

  std::ofstream(path) << "machine_id = 'm-0123456789ab'\n";  // damaged: no user
  auto damaged = ReadBusUser(path);
  REQUIRE_FALSE(damaged);
  CHECK(damaged.error().code == ErrorCode::kBadConfig);
  CHECK(ReadBusUser(dir / "none.toml").error().code == ErrorCode::kNotFound);
}

TEST_CASE("the agent starts with the bus user named in its config, else the one it kept",
          "[join]") {
  TempDir dir;
  AgentConfig c;
  c.data_dir = dir.path();
  c.join_token = "j-0123456789ab.beef";  // never used: the agent already has a user
  c.labels["pool"] = "mine";
  REQUIRE(WriteBusUser(BusUserFile(dir.path()),
                       {"m-0123456789ab", "m-0123456789ab", "pw", {{"pool", "kvm"}, {"z", "1"}}}));
  AgentConfig kept = c;
  REQUIRE(EnrolOnBus(kept));
  CHECK(kept.machine_id == "m-0123456789ab");
  CHECK(kept.nats_user == "m-0123456789ab");
  CHECK(kept.nats_password == "pw");
  CHECK(kept.labels.at("pool") == "mine");  // its own labels win over the token's
  CHECK(kept.labels.at("z") == "1");

  AgentConfig provisioned = c;
  provisioned.nats_user = "m-ffffffffffff";
  provisioned.nats_password = "given";
  REQUIRE(EnrolOnBus(provisioned));
  CHECK(provisioned.nats_password == "given");
  CHECK(provisioned.machine_id.empty());

  // No user, no token: left as it is (an insecure bus). A bad token: refused before the bus.
  TempDir fresh;
  AgentConfig open;
  open.data_dir = fresh.path();
  open.nats_url = "nats://127.0.0.1:1";  // no bus there yet: nothing to refuse
  REQUIRE(EnrolOnBus(open));
  CHECK(open.nats_user.empty());
  open.join_token = "not-a-token";
  auto bad = EnrolOnBus(open);
  REQUIRE_FALSE(bad);
  CHECK_THAT(bad.error().message, Catch::Contains("looks like"));
  open.join_token.clear();
  open.join_token_file = fresh / "missing";
  CHECK_FALSE(EnrolOnBus(open));
}

TEST_CASE("answers go to the asker's own inboxes only", "[join]") {
  CHECK(IsInboxOf("_INBOX_m-1.abc.1", "m-1"));
  CHECK_FALSE(IsInboxOf("_INBOX_m-2.abc.1", "m-1"));
  CHECK_FALSE(IsInboxOf("_INBOX_m-12.abc", "m-1"));
  CHECK_FALSE(IsInboxOf("_INBOX.abc", "m-1"));
  CHECK_FALSE(IsInboxOf("_INBOX_m-1.", "m-1"));
  CHECK_FALSE(IsInboxOf("_INBOX_.x", ""));
  CHECK(MayAnswer("_INBOX.abc", "m-1", false));
  CHECK_FALSE(MayAnswer("_INBOX.abc", "m-1", true));
  CHECK_FALSE(MayAnswer("av.cmd.m-2", "m-1", false));
  CHECK(MayAnswer("_INBOX_m-1.r", "m-1", true));
}
