// The audit trail on a real SQLite store: records chained in the write batch, a record undone
// with its operation leaving the chain whole, retention behind an anchor, verification.
#include "controller/audit/audit_trail.h"

#include <catch2/catch.hpp>

#include "controller/config.h"
#include "tests/support/catch_result.h"
#include "tests/support/process.h"

using namespace autovibe;
using namespace autovibe::testing;

namespace {

// A clock moved by hand. Not tests/unit/manual_clock.h: budget_test_fixture.h defines another
// ManualClock in the same namespace, and one binary holding both uses one of them for both.
class HandClock final : public Clock {
 public:
  int64_t NowMs() const override { return now; }
  int64_t now = 1'700'000'000'000;
};

struct Trail {
  TempDir dir;
  std::unique_ptr<Store> store = OpenSqliteStore(dir / "controller.db").value();
  boost::asio::io_context ioc;
  WriteBatch batch{*store, ioc};
  HandClock clock;
  AuditTrail trail{*store, batch, clock, AuditTrailOptions{.retention = std::chrono::hours(1)}};

  void Add(const std::string& id) {
    trail.Record(Decision("test_rule", "thing.done", "thing", id));
    REQUIRE(batch.Commit());
    clock.now += 60'000;
  }
  std::vector<AuditRecord> All() {
    AuditFilter f;
    f.oldest_first = true;
    f.limit = 1000;
    return store->audit().Find(f).value();
  }
  std::optional<AuditBreak> Verify() {
    auto v = trail.Verify(2).value();
    while (!v->Step().value()) {
    }
    return v->check().broken();
  }
};

}  // namespace

TEST_CASE("the audit trail chains records in the store and they verify", "[audit]") {
  Trail t;
  for (const std::string id : {"a", "b", "c"}) t.Add(id);
  auto all = t.All();
  REQUIRE(all.size() == 3);
  CHECK(all[0].seq == 1);
  CHECK(all[0].prev_hash.empty());
  CHECK(all[0].actor == "controller:test_rule");
  CHECK(all[1].prev_hash == all[0].hash);
  CHECK(all[2].at_ms == all[0].at_ms + 120'000);
  CHECK(!t.Verify());
}

TEST_CASE("a record undone with its operation leaves the chain whole", "[audit]") {
  Trail t;
  t.Add("a");
  t.batch.Open();
  REQUIRE(t.store->Savepoint("op"));
  t.trail.Record(Decision("test_rule", "thing.done", "thing", "undone"));
  REQUIRE(t.store->RollbackTo("op"));
  REQUIRE(t.store->Release("op"));
  t.trail.Record(Decision("test_rule", "thing.done", "thing", "b"));
  REQUIRE(t.batch.Commit());
  auto all = t.All();
  REQUIRE(all.size() == 2);
  CHECK(all[1].object_id == "b");
  CHECK(all[1].seq == 2);
  CHECK(!t.Verify());
}

TEST_CASE("retention removes the oldest records behind an anchor the chain goes on from",
          "[audit]") {
  Trail t;
  for (const std::string id : {"a", "b", "c", "d"}) t.Add(id);  // a minute apart
  const auto before = t.All();
  // An hour's retention, 62 minutes after the first: a and b (at +0 and +1 min) go.
  t.clock.now = before[0].at_ms + 62 * 60'000;
  CHECK(t.trail.Tick() == 2);
  REQUIRE(t.batch.Commit());
  auto kept = t.All();
  REQUIRE(kept.size() == 2);
  CHECK(kept[0].object_id == "c");
  const AuditAnchor anchor = t.store->audit().Anchor().value();
  CHECK(anchor.seq == 2);
  CHECK(anchor.hash == before[1].hash);
  CHECK(!t.Verify());
  // Retention runs again only later; new records go on from the kept ones.
  CHECK(t.trail.Tick() == 0);
  t.Add("e");
  CHECK(t.All().back().seq == 5);
  CHECK(!t.Verify());
  // Nothing kept at all: the next record follows the anchor.
  REQUIRE(t.trail.PruneBefore(t.clock.now + 1).value() == 3);
  REQUIRE(t.batch.Commit());
  CHECK(t.All().empty());
  t.Add("f");
  CHECK(t.All().front().seq == 6);
  CHECK(t.All().front().prev_hash == t.store->audit().Anchor().value().hash);
  CHECK(!t.Verify());
}

TEST_CASE("the audit store refuses records out of order", "[audit]") {
  Trail t;
  t.Add("a");
  AuditRecord again = t.All()[0];
  CHECK(!t.store->audit().Append(again));  // the same seq twice
  again.seq = 0;
  CHECK(!t.store->audit().Append(again));
}

TEST_CASE("audit records are found by actor, project, object and time, newest or oldest first",
          "[audit]") {
  Trail t;
  auto add = [&](std::string actor, std::string kind, std::string id, std::string project) {
    AuditRecord r;
    r.actor = std::move(actor);
    r.action = "x";
    r.object_kind = std::move(kind);
    r.object_id = std::move(id);
    r.project = std::move(project);
    t.trail.Record(std::move(r));
    t.clock.now += 1000;
  };
  add("controller:machine_lost", "machine", "m-1", "");
  add("controller-bot", "task", "t-1", "demo");  // a token's name, not the controller
  add("admin", "task", "t-1", "demo");
  add("controller:autoscaler", "machine", "m-2", "");
  add("admin", "project", "other", "other");
  REQUIRE(t.batch.Commit());
  auto seqs = [&](AuditFilter f) {
    std::vector<int64_t> out;
    for (const auto& r : t.store->audit().Find(f).value()) out.push_back(r.seq);
    return out;
  };
  using V = std::vector<int64_t>;
  CHECK(seqs({.actor = "controller"}) == V{4, 1});
  CHECK(seqs({.actor = "controller:autoscaler"}) == V{4});
  CHECK(seqs({.actor = "controller-bot"}) == V{2});
  CHECK(seqs({.project = "demo"}) == V{3, 2});
  CHECK(seqs({.object_kind = "task", .object_id = "t-1"}) == V{3, 2});
  CHECK(seqs({.object_kind = "machine"}) == V{4, 1});
  CHECK(seqs({.object_id = "other"}) == V{5});
  const int64_t first = t.All()[0].at_ms;
  CHECK(seqs({.since_ms = first + 2000}) == V{5, 4, 3});
  CHECK(seqs({.since_ms = first + 1000, .until_ms = first + 3000}) == V{3, 2});
  CHECK(seqs({.before_seq = 4, .limit = 2}) == V{3, 2});
  CHECK(seqs({.oldest_first = true, .after_seq = 3}) == V{4, 5});
}

TEST_CASE("audit_retention is a duration in the controller's config, a year by default",
          "[audit]") {
  ControllerConfig c;
  CHECK(c.audit_retention == std::chrono::hours(365 * 24));
  REQUIRE(LoadControllerConfigToml("audit_retention = \"30d\"", c));
  CHECK(c.audit_retention == std::chrono::hours(30 * 24));
  REQUIRE(LoadControllerConfigToml("audit_retention = \"0s\"", c));  // kept for ever
  CHECK(c.audit_retention.count() == 0);
  CHECK_FALSE(LoadControllerConfigToml("audit_retention = 30", c));
  CHECK_FALSE(LoadControllerConfigToml("audit_retention = \"a year\"", c));
}
