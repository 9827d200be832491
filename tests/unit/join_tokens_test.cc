// One-time join tokens and the bus users they stand for (controller/machines/join_tokens.h,
// nats_auth.h), on a real SQLite store and a users file in a temp dir (no server to reload).
#include "controller/machines/join_tokens.h"

#include <catch2/catch.hpp>

#include "tests/support/catch_result.h"
#include "tests/unit/join_tokens_fixture.h"

using namespace autovibe;
using namespace std::chrono_literals;

using Tokens = autovibe::testing::JoinTokensFixture;

TEST_CASE("a join token is a bus user until it is used, once", "[join]") {
  Tokens t;
  auto made = t.tokens.Create("kvm", 0ms);
  REQUIRE(made);
  CHECK_THAT(made->id, Catch::StartsWith("j-"));
  CHECK(made->token.starts_with(made->id + "."));
  CHECK(made->expires_at_ms == t.clock.now + 3'600'000);  // 1h by default
  const std::string secret = made->token.substr(made->id.size() + 1);
  CHECK(secret.size() >= 32);
  // Its user may ask to join and hear the answer, and nothing else.
  CHECK_THAT(t.UsersFile(),
             Catch::Contains("{user: \"" + made->id + "\", password: \"" + secret + "\"") &&
                 Catch::Contains("publish: {allow: [\"av.join." + made->id + "\"]}") &&
                 Catch::Contains("subscribe: {allow: [\"_INBOX_" + made->id + ".>\"]}"));

  auto grant = t.tokens.Claim(made->id);
  REQUIRE(grant);
  CHECK_THAT(grant->machine_id, Catch::StartsWith("m-"));
  CHECK(grant->nats_user == grant->machine_id);
  CHECK(grant->nats_password != secret);
  CHECK(grant->labels == std::map<std::string, std::string>{{"pool", "kvm"}, {"gpu", "none"}});
  CHECK_THAT(t.UsersFile(), Catch::Contains("{user: \"" + grant->machine_id + "\""));

  // Once.
  auto again = t.tokens.Claim(made->id);
  REQUIRE_FALSE(again);
  CHECK(again.error().code == ErrorCode::kConflict);
  CHECK_THAT(again.error().message,
             Catch::Contains("already used") && Catch::Contains(grant->machine_id));
  auto unknown = t.tokens.Claim("j-000000000000");
  REQUIRE_FALSE(unknown);
  CHECK(unknown.error().code == ErrorCode::kNotFound);

  // The used token's user stays for the answer to go out, then goes.
  CHECK(t.tokens.Tick() == 0);
  CHECK_THAT(t.UsersFile(), Catch::Contains(made->id));
  t.clock.now += 60'000;
  CHECK(t.tokens.Tick() == 1);
  CHECK_THAT(t.UsersFile(), !Catch::Contains(made->id));
  CHECK_THAT(t.UsersFile(), Catch::Contains(grant->machine_id));
}

TEST_CASE("an agent whose join answer was lost hears the same answer until it registers",
          "[join]") {
  bool registered = false;
  Tokens t{[&](const std::string&) { return registered; }};
  auto made = t.tokens.Create("kvm", 0ms);
  REQUIRE(made);
  auto first = t.tokens.Claim(made->id);
  REQUIRE(first);
  // Asked again (the answer was lost to a reload of nats-server): the same machine and user,
  // not a second machine.
  t.clock.now += 10'000;
  auto again = t.tokens.Claim(made->id);
  REQUIRE(again);
  CHECK(again->machine_id == first->machine_id);
  CHECK(again->nats_user == first->nats_user);
  CHECK(again->nats_password == first->nats_password);
  CHECK(again->labels == first->labels);
  CHECK(t.tokens.Tick() == 0);
  CHECK_THAT(t.UsersFile(), Catch::Contains(made->id));
  // Once the machine has registered, the answer is not given again, and the token's own bus
  // user goes at once.
  registered = true;
  auto after = t.tokens.Claim(made->id);
  REQUIRE_FALSE(after);
  CHECK(after.error().code == ErrorCode::kConflict);
  CHECK(t.tokens.Tick() == 1);
  CHECK_THAT(t.UsersFile(), !Catch::Contains(made->id));
  // Nor after the grace, registered or not.
  registered = false;
  t.clock.now += 60'000;
  auto late = t.tokens.Claim(made->id);
  REQUIRE_FALSE(late);
  CHECK(late.error().code == ErrorCode::kConflict);
}

TEST_CASE("an expired join token is refused and loses its bus user", "[join]") {
  Tokens t;
  auto made = t.tokens.Create("", 60s);
  REQUIRE(made);
  CHECK(t.tokens.live() == 1);
  t.clock.now += 60'000;
  auto late = t.tokens.Claim(made->id);
  REQUIRE_FALSE(late);
  CHECK(late.error().code == ErrorCode::kConflict);
  CHECK_THAT(late.error().message, Catch::Contains("expired"));
  CHECK(t.tokens.live() == 0);
  CHECK(t.tokens.Tick() == 1);
  CHECK_THAT(t.UsersFile(), !Catch::Contains(made->id));
  // Forgotten a week after it ended.
  t.clock.now += 7 * 24 * 3'600'000LL;
  t.tokens.Tick();
  CHECK(t.tokens.Find(made->id) == nullptr);
  CHECK(t.store->join_tokens().LoadJoinTokens()->empty());
}

TEST_CASE("join tokens survive a restart: live ones stay bus users, used ones do not", "[join]") {
  Tokens t;
  auto live = t.tokens.Create("", 1h);
  auto used = t.tokens.Create("", 1h);
  REQUIRE(live);
  REQUIRE(used);
  REQUIRE(t.tokens.Claim(used->id));
  JoinTokens restarted(*t.store, t.clock, t.auth, {});
  REQUIRE(restarted.Load());
  CHECK(restarted.live() == 1);
  CHECK(restarted.Find(live->id) != nullptr);
  CHECK_THAT(t.UsersFile(), Catch::Contains(live->id) && !Catch::Contains(used->id));
  CHECK_FALSE(restarted.Claim(used->id));
  CHECK(restarted.Claim(live->id));
}

TEST_CASE("bad pool names and ttls make no token", "[join]") {
  Tokens t;
  for (auto [pool, ttl] : {std::pair{std::string("bad pool"), Duration(1h)},
                           {std::string(70, 'p'), Duration(1h)},
                           {std::string("ok"), Duration(500ms)},
                           {std::string("ok"), Duration(24h * 31)}}) {
    INFO(pool << " " << ttl.count());
    auto r = t.tokens.Create(pool, ttl);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == ErrorCode::kBadRequest);
  }
  CHECK(t.store->join_tokens().LoadJoinTokens()->empty());
  CHECK(t.tokens.live() == 0);
}

TEST_CASE("a machine's bus user may subscribe to its own commands and inboxes only", "[join]") {
  Tokens t;
  NatsAuth& auth = t.auth;
  REQUIRE(auth.Mint("m-aaaaaaaaaaaa"));
  REQUIRE(auth.Mint("m-bbbbbbbbbbbb"));
  const std::string text = auth.Render();
  const auto block_of = [&](const std::string& user) {
    const size_t at = text.find("{user: \"" + user + "\"");
    REQUIRE(at != std::string::npos);
    return text.substr(at, text.find("}}", at) - at);
  };
  const std::string a = block_of("m-aaaaaaaaaaaa");
  CHECK_THAT(a, Catch::Contains("subscribe: {allow: [\"av.cmd.m-aaaaaaaaaaaa\", "
                                "\"_INBOX_m-aaaaaaaaaaaa.>\"]}"));
  CHECK_THAT(a,
             Catch::Contains(
                 "publish: {allow: [\"av.register.m-aaaaaaaaaaaa\", "
                 "\"av.hb.m-aaaaaaaaaaaa\", \"av.evt.m-aaaaaaaaaaaa\", "
                 "\"av.lease.m-aaaaaaaaaaaa\", \"$JS.API.STREAM.INFO.AV_EVENTS\", \"_INBOX.>\"]}"));
  // Nothing of the other machine's, no wildcard over machines; the shared inboxes only to
  // answer on (publish), never to read (the subscribe list is exactly the two above).
  CHECK_THAT(a, !Catch::Contains("bbbbbbbbbbbb") && !Catch::Contains("av.cmd.*") &&
                    !Catch::Contains("av.cmd.>") && !Catch::Contains("\">\""));
  // Only the controller's own user has no permissions block.
  const size_t at = text.find("{user: \"controller\"");
  REQUIRE(at != std::string::npos);
  CHECK_THAT(text.substr(at, text.find('\n', at) - at), !Catch::Contains("permissions"));
}
