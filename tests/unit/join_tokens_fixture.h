// Join tokens over a real SQLite store and a users file in a temp dir (no server to reload),
// for the tests of join_tokens.h, nats_auth.h and the join tokens API.
#pragma once

#include <catch2/catch.hpp>
#include <functional>
#include <memory>
#include <string>

#include "common/core/files.h"
#include "controller/machines/join_tokens.h"
#include "controller/machines/nats_auth.h"
#include "tests/support/process.h"
#include "tests/unit/manual_clock.h"

namespace autovibe::testing {

struct JoinTokensFixture {
  TempDir dir;
  ManualClock clock;
  std::unique_ptr<Store> store = OpenSqliteStore(dir / "controller.db").value();
  NatsAuth auth{*store, clock,
                NatsAuthOptions{.auth_file = dir / "users.conf",
                                .controller_user = "controller",
                                .controller_password = "pw"}};
  JoinTokens tokens;

  // `registered`: whether a machine has registered (JoinTokensOptions::registered).
  explicit JoinTokensFixture(std::function<bool(const std::string&)> registered = {})
      : tokens(*store, clock, auth,
               JoinTokensOptions{.pool_labels = {{"kvm", {{"gpu", "none"}}}},
                                 .registered = std::move(registered)}) {
    REQUIRE(tokens.Load());
  }
  std::string UsersFile() { return ReadFile(dir / "users.conf").value(); }
};

}  // namespace autovibe::testing
