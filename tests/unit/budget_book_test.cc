#include "controller/budgets/budget_book.h"

#include <catch2/catch.hpp>

#include "tests/unit/budget_test_fixture.h"

using namespace autovibe;
using namespace autovibe::testing;

TEST_CASE("a lease is granted up to the limit and denied past it with a clear message",
          "[budget]") {
  BudgetFixture f;
  REQUIRE(f.SetUsd(Usd(1.00)));
  f.Place("t1", "m1", "demo");
  f.Place("t2", "m2", "demo");

  auto first = f.Ask("m1", "l1", "t1", Usd(0.30), Usd(0.50));
  CHECK(first.ok);
  CHECK(first.error.empty());
  CHECK(first.granted_total.usd_micros == Usd(0.50));
  CHECK(first.ttl_ms == 30'000);
  // Asking for more than is left gets what is left, as long as the need fits.
  auto more = f.Ask("m1", "l1", "t1", Usd(0.90), Usd(1.50));
  CHECK(more.ok);
  CHECK(more.granted_total.usd_micros == Usd(1.00));
  // The same request again changes nothing: every figure is cumulative.
  auto again = f.Ask("m1", "l1", "t1", Usd(0.90), Usd(1.00));
  CHECK(again.ok);
  CHECK(again.granted_total.usd_micros == Usd(1.00));
  CHECK(f.book->Outstanding("demo").usd_micros == Usd(1.00));

  f.Spend("m1", "l1", "t1", Usd(0.98));
  REQUIRE(f.Close("m1", "l1", "t1", Usd(0.99)).ok);
  auto denied = f.Ask("m2", "l2", "t2", Usd(0.05), Usd(0.10));
  CHECK_FALSE(denied.ok);
  CHECK(denied.error.empty());
  CHECK(denied.denied_resource == "usd");
  CHECK(denied.on_exhaust == "pause");
  CHECK(denied.granted_total.usd_micros == 0);
  CHECK(denied.message ==
        "budget usd (total) of project demo is exhausted: spent $0.98 + reserved $0.01 of "
        "$1.00, and the next call needs up to $0.05 more (its worst case); raise it with: "
        "autovibe budget set demo --usd N");
  CHECK(denied.exhausted);
  // What fits is still granted.
  auto small = f.Ask("m2", "l2", "t2", Usd(0.01), Usd(0.10));
  CHECK(small.ok);
  CHECK(small.granted_total.usd_micros == Usd(0.01));
}

TEST_CASE("a project without budgets gets what it wants and records its spend", "[budget]") {
  BudgetFixture f;
  f.Place("t1", "m1", "demo");
  auto r = f.Ask("m1", "l1", "t1", Usd(1), Usd(5));
  CHECK(r.ok);
  CHECK(r.granted_total.usd_micros == Usd(5));
  f.Spend("m1", "l1", "t1", Usd(2));
  auto u = f.book->Usage("demo");
  REQUIRE(u);
  CHECK(u->budgets.empty());
  CHECK(u->totals.usd_micros == Usd(2));
  CHECK(u->totals.tokens == 120);
  CHECK(u->totals.api_calls == 1);
}

TEST_CASE("many interleaved leases never hold more than the limit", "[budget]") {
  BudgetFixture f;
  Budget total{BudgetResource::kUsd, BudgetPeriod::kTotal, Usd(10), {50, 75, 90}, true};
  Budget day{BudgetResource::kUsd, BudgetPeriod::kDay, Usd(7), {75}, true};
  REQUIRE(f.book->SetBudgets("demo", {total, day}));

  struct Agent {
    std::string machine, task, lease;
    int64_t granted = 0, consumed = 0;
    int leases = 0;
    bool closed = false;
  };
  struct Pending {
    std::string machine, lease, task, event;
    int64_t cost;
  };
  std::mt19937 rng(20261130);
  auto pick = [&rng](int64_t lo, int64_t hi) {
    return std::uniform_int_distribution<int64_t>(lo, hi)(rng);
  };
  std::vector<Agent> agents(64);
  for (size_t i = 0; i < agents.size(); ++i) {
    Agent& a = agents[i];
    a.machine = "m" + std::to_string(i % 8);
    a.task = "t" + std::to_string(i);
    a.lease = a.task + "-l0";
    f.Place(a.task, a.machine, "demo");
  }
  std::vector<Pending> pending, applied;
  int events = 0, grants = 0, denials = 0;
  auto check_invariant = [&] {
    for (BudgetPeriod p : {BudgetPeriod::kTotal, BudgetPeriod::kDay}) {
      const BudgetUsage& u = f.UsdUsage(p);
      INFO("period " << ToString(p) << " spent " << u.spent << " reserved " << u.reserved);
      REQUIRE(u.spent + u.reserved <= u.budget.limit);
    }
  };
  for (int step = 0; step < 4000; ++step) {
    Agent& a = agents[static_cast<size_t>(pick(0, 63))];
    switch (pick(0, 5)) {
      case 0:
      case 1: {  // top up: need what the next call may cost, want a chunk more
        if (a.closed) break;
        const int64_t need = a.consumed + pick(1, Usd(0.20));
        auto r = f.Ask(a.machine, a.lease, a.task, need, need + pick(0, Usd(0.50)));
        REQUIRE(r.error.empty());
        if (r.ok) {
          REQUIRE(r.granted_total.usd_micros >= need);
          ++grants;
        } else {
          ++denials;
        }
        a.granted = r.granted_total.usd_micros;
        break;
      }
      case 2: {  // spend part of what the lease holds; the record travels on its own
        if (a.closed || a.granted == a.consumed) break;
        const int64_t cost = pick(1, a.granted - a.consumed);
        a.consumed += cost;
        pending.push_back({a.machine, a.lease, a.task, "e" + std::to_string(++events), cost});
        break;
      }
      case 3: {  // a record arrives, in any order
        if (pending.empty()) break;
        const size_t i = static_cast<size_t>(pick(0, static_cast<int64_t>(pending.size()) - 1));
        Pending p = pending[i];
        pending.erase(pending.begin() + static_cast<long>(i));
        auto rec = BudgetFixture::Llm(p.lease, p.task, p.cost);
        REQUIRE(f.book->ApplyUsage(p.machine, f.clock.now, rec, p.event));
        applied.push_back(p);
        break;
      }
      case 4: {  // the task ends its lease; the next one starts a new lease
        if (a.closed) break;
        REQUIRE(f.Close(a.machine, a.lease, a.task, a.consumed).ok);
        a.closed = true;
        if (a.leases < 5) {
          a.lease = a.task + "-l" + std::to_string(++a.leases);
          a.granted = a.consumed = 0;
          a.closed = false;
        }
        break;
      }
      case 5: {  // JetStream redelivers a record already applied
        if (applied.empty()) break;
        const Pending& p =
            applied[static_cast<size_t>(pick(0, static_cast<int64_t>(applied.size()) - 1))];
        REQUIRE(f.book->ApplyUsage(p.machine, f.clock.now,
                                   BudgetFixture::Llm(p.lease, p.task, p.cost), p.event));
        break;
      }
    }
    check_invariant();
  }
  CHECK(grants > 100);
  CHECK(denials > 10);
  // Everything arrives and every lease closes: what was spent is within every limit, and
  // nothing stays reserved.
  for (const Pending& p : pending) {
    REQUIRE(f.book->ApplyUsage(p.machine, f.clock.now, BudgetFixture::Llm(p.lease, p.task, p.cost),
                               p.event));
  }
  int64_t consumed_total = 0;
  for (Agent& a : agents) {
    if (!a.closed) REQUIRE(f.Close(a.machine, a.lease, a.task, a.consumed).ok);
  }
  for (const Pending& p : applied) consumed_total += p.cost;
  for (const Pending& p : pending) consumed_total += p.cost;
  check_invariant();
  const BudgetUsage& day_usage = f.UsdUsage(BudgetPeriod::kDay);
  CHECK(day_usage.spent == consumed_total);
  CHECK(day_usage.spent <= Usd(7));
  CHECK(day_usage.reserved == 0);
  CHECK(f.book->lease_count() == 0);
}

TEST_CASE("closing a lease releases the unused part only after its usage arrives", "[budget]") {
  BudgetFixture f;
  REQUIRE(f.SetUsd(Usd(1.00)));
  f.Place("t1", "m1", "demo");
  f.Place("t2", "m2", "demo");
  REQUIRE(f.Ask("m1", "l1", "t1", Usd(0.50), Usd(0.50)).ok);
  // The agent spent 0.20; the record is still on its way when the close arrives.
  auto closed = f.Close("m1", "l1", "t1", Usd(0.20));
  CHECK(closed.ok);
  CHECK(closed.granted_total.usd_micros == Usd(0.50));
  CHECK(f.book->Outstanding("demo").usd_micros == Usd(0.20));
  CHECK_FALSE(f.Ask("m2", "l2", "t2", Usd(0.81), Usd(0.81)).ok);
  // A repeated close changes nothing.
  CHECK(f.Close("m1", "l1", "t1", Usd(0.20)).ok);
  CHECK(f.book->Outstanding("demo").usd_micros == Usd(0.20));
  f.Spend("m1", "l1", "t1", Usd(0.20));
  CHECK(f.book->Outstanding("demo").usd_micros == 0);
  CHECK(f.book->FindLease("l1") == nullptr);  // fully settled: dropped
  CHECK(f.Ask("m2", "l2", "t2", Usd(0.80), Usd(0.80)).ok);
  // A request on a closed lease is an error, not a budget matter.
  REQUIRE(f.Close("m2", "l2", "t2", Usd(0.05)).ok);
  auto reopened = f.Ask("m2", "l2", "t2", Usd(0.10), Usd(0.10));
  CHECK_FALSE(reopened.ok);
  CHECK_FALSE(reopened.error.empty());
}

TEST_CASE("a usage record applied twice changes nothing", "[budget]") {
  BudgetFixture f;
  REQUIRE(f.SetUsd(Usd(1.00)));
  f.Place("t1", "m1", "demo");
  REQUIRE(f.Ask("m1", "l1", "t1", Usd(0.50), Usd(0.50)).ok);
  const std::string ev = f.Spend("m1", "l1", "t1", Usd(0.30));
  REQUIRE(f.book->ApplyUsage("m1", f.clock.now, BudgetFixture::Llm("l1", "t1", Usd(0.30)), ev));
  CHECK(f.UsdUsage().spent == Usd(0.30));
  CHECK(f.book->FindLease("l1")->settled.usd_micros == Usd(0.30));
  CHECK(f.book->Outstanding("demo").usd_micros == Usd(0.20));
  auto rows = f.book->UsageBy({});
  REQUIRE(rows);
  REQUIRE(rows->size() == 1);
  CHECK((*rows)[0].calls == 1);
  CHECK((*rows)[0].cost_micros == Usd(0.30));
}

TEST_CASE("a record cannot settle another machine's lease or charge another project", "[budget]") {
  BudgetFixture f;
  f.AddProject("other");
  REQUIRE(f.SetUsd(Usd(1.00)));
  f.Place("t1", "m1", "demo");
  REQUIRE(f.Ask("m1", "l1", "t1", Usd(0.50), Usd(0.50)).ok);
  // m2 names m1's lease and claims the spend belongs to "other"; m1 names its lease for
  // another attempt; m1 names a lease it never had. None is charged to anybody.
  auto forged = BudgetFixture::Llm("l1", "t1", Usd(0.40), "m", "other");
  REQUIRE(f.book->ApplyUsage("m2", f.clock.now, forged, "forged-1"));
  auto other_attempt = BudgetFixture::Llm("l1", "t1", Usd(0.40));
  other_attempt.attempt = 2;
  REQUIRE(f.book->ApplyUsage("m1", f.clock.now, other_attempt, "forged-2"));
  REQUIRE(f.book->ApplyUsage("m1", f.clock.now, BudgetFixture::Llm("l-none", "t1", Usd(0.40)),
                             "forged-3"));
  CHECK(f.book->FindLease("l1")->settled.usd_micros == 0);
  CHECK(f.UsdUsage().spent == 0);
  auto other = f.book->Usage("other");
  REQUIRE(other);
  CHECK(other->totals.usd_micros == 0);
  auto rows = f.book->UsageBy({});
  REQUIRE(rows);
  CHECK(rows->empty());
  // Under its own lease m1's record is charged; negative figures count as nothing.
  REQUIRE(f.book->ApplyUsage("m1", f.clock.now, BudgetFixture::Llm("l1", "t1", Usd(0.40)), "own"));
  REQUIRE(f.book->ApplyUsage("m1", f.clock.now, BudgetFixture::Llm("l1", "t1", -Usd(5)), "neg"));
  CHECK(f.UsdUsage().spent == Usd(0.40));
}

TEST_CASE("exhaustion fires once and raising the limit replenishes", "[budget]") {
  BudgetFixture f;
  REQUIRE(f.SetUsd(Usd(1.00)));
  f.Place("t1", "m1", "demo");
  REQUIRE(f.Ask("m1", "l1", "t1", Usd(1.00), Usd(1.00)).ok);
  f.Spend("m1", "l1", "t1", Usd(1.00));
  REQUIRE(f.fx.exhausted.size() == 1);
  CHECK(f.fx.exhausted[0].project == "demo");
  CHECK(f.fx.exhausted[0].resource == "usd");
  CHECK(f.fx.exhausted[0].pause);
  CHECK(f.fx.exhausted[0].message.find("autovibe budget set demo --usd N") != std::string::npos);
  CHECK(f.book->Exhausted("demo"));
  auto why = f.book->ExhaustedBy("demo");
  REQUIRE(why);
  CHECK(why->resource == BudgetResource::kUsd);
  CHECK(why->reason.find("budget usd (total) of project demo is exhausted") == 0);
  // Denied again and again: still one effect.
  for (int i = 0; i < 3; ++i) CHECK_FALSE(f.Ask("m1", "l1", "t1", Usd(1.10), Usd(1.10)).ok);
  CHECK(f.fx.exhausted.size() == 1);
  // The same limit again is no raise.
  REQUIRE(f.SetUsd(Usd(1.00)));
  CHECK(f.fx.replenished.empty());
  CHECK(f.book->Exhausted("demo"));
  REQUIRE(f.SetUsd(Usd(2.00)));
  CHECK(f.fx.replenished == std::vector<std::string>{"demo"});
  CHECK_FALSE(f.book->Exhausted("demo"));
  CHECK(f.Ask("m1", "l1", "t1", Usd(1.10), Usd(1.10)).ok);
  // Lowering a limit below the spend exhausts it at once, as a stop this time.
  Budget low{BudgetResource::kUsd, BudgetPeriod::kTotal, Usd(0.50), {75, 90}, false};
  REQUIRE(f.book->SetBudgets("demo", {low}));
  REQUIRE(f.fx.exhausted.size() == 2);
  CHECK_FALSE(f.fx.exhausted[1].pause);
}

TEST_CASE("a denial caused by other leases holding the budget is no exhaustion", "[budget]") {
  BudgetFixture f;
  REQUIRE(f.SetUsd(Usd(1.00)));
  f.Place("t1", "m1", "demo");
  f.Place("t2", "m2", "demo");
  REQUIRE(f.Ask("m1", "l1", "t1", Usd(0.60), Usd(0.60)).ok);
  REQUIRE(f.Ask("m2", "l2", "t2", Usd(0.30), Usd(0.30)).ok);
  // l2 holds 0.30 and needs 0.20 more; only 0.10 is free: denied, but l1 may give its 0.60
  // back, so the project is not exhausted.
  auto r = f.Ask("m2", "l2", "t2", Usd(0.50), Usd(0.50));
  CHECK_FALSE(r.ok);
  CHECK(r.message.find("has no room left now") != std::string::npos);
  CHECK(f.fx.exhausted.empty());
  CHECK_FALSE(f.book->Exhausted("demo"));
  // Even with l1's 0.60 back, 0.30 + 0.70 cannot hold 1.01: exhausted.
  CHECK_FALSE(f.Ask("m2", "l2", "t2", Usd(0.70), Usd(0.70)).ok);
  CHECK(f.fx.exhausted.empty());
  CHECK_FALSE(f.Ask("m2", "l2", "t2", Usd(1.01), Usd(1.01)).ok);
  CHECK(f.fx.exhausted.size() == 1);
}

TEST_CASE("a task's own max_usd caps its leases across attempts", "[budget]") {
  BudgetFixture f;
  REQUIRE(f.SetUsd(Usd(10.00)));
  f.Place("t1", "m1", "demo", Usd(0.50));
  auto r = f.Ask("m1", "l1", "t1", Usd(0.20), Usd(1.00));
  CHECK(r.ok);
  CHECK(r.granted_total.usd_micros == Usd(0.50));  // the want is cut to the cap
  f.Spend("m1", "l1", "t1", Usd(0.40));
  REQUIRE(f.Close("m1", "l1", "t1", Usd(0.40)).ok);
  // The next attempt has 0.10 left of its cap.
  f.Place("t1", "m2", "demo", Usd(0.50), 2);
  auto next = f.book->Grant("m2", [] {
    auto q = BudgetFixture::Request("m2", "l1b", "t1", Usd(0.20), Usd(0.20));
    q.attempt = 2;
    return q;
  }());
  CHECK_FALSE(next.ok);
  CHECK(next.denied_resource == "task max_usd");
  CHECK(next.on_exhaust == "stop");
  REQUIRE(f.fx.capped.size() == 1);
  CHECK(f.fx.capped[0].first == "t1");
  CHECK(f.fx.capped[0].second == next.message);
  CHECK(f.fx.exhausted.empty());  // the project's budget is fine
}

TEST_CASE("a stopped project is denied without effects", "[budget]") {
  BudgetFixture f;
  REQUIRE(f.SetUsd(Usd(10.00)));
  f.Place("t1", "m1", "demo");
  f.tasks.tasks["t1"].project_stopped = true;
  auto r = f.Ask("m1", "l1", "t1", Usd(0.10), Usd(0.10));
  CHECK_FALSE(r.ok);
  CHECK(r.error.empty());
  CHECK(r.denied_resource == "project stopped");
  CHECK(r.on_exhaust == "pause");
  CHECK(f.fx.exhausted.empty());
  CHECK(f.fx.capped.empty());
  CHECK(f.book->Outstanding("demo").usd_micros == 0);
}

TEST_CASE("bad lease requests are errors and change nothing", "[budget]") {
  BudgetFixture f;
  REQUIRE(f.SetUsd(Usd(1.00)));
  f.Place("t1", "m1", "demo");
  auto bad = [&](const LeaseRequest& r, const std::string& machine = "m1") {
    auto reply = f.book->Grant(machine, r);
    CHECK_FALSE(reply.ok);
    CHECK_FALSE(reply.error.empty());
  };
  bad(BudgetFixture::Request("m1", "", "t1", 1, 1));
  bad(BudgetFixture::Request("m1", std::string(129, 'x'), "t1", 1, 1));
  bad(BudgetFixture::Request("m1", "l1", "t-nope", 1, 1));
  bad(BudgetFixture::Request("m1", "l1", "t1", 1, 1, "other"));
  bad(BudgetFixture::Request("m2", "l1", "t1", 1, 1), "m2");  // not where the task runs
  auto old_attempt = BudgetFixture::Request("m1", "l1", "t1", 1, 1);
  old_attempt.attempt = 2;
  bad(old_attempt);
  f.tasks.tasks["t1"].placed = false;
  bad(BudgetFixture::Request("m1", "l1", "t1", 1, 1));
  CHECK(f.book->lease_count() == 0);
  f.tasks.tasks["t1"].placed = true;
  REQUIRE(f.Ask("m1", "l1", "t1", 1, 1).ok);
  // Another task's attempt may not use (or close) this lease.
  f.Place("t2", "m1", "demo");
  bad(BudgetFixture::Request("m1", "l1", "t2", 5, 5));
  CHECK(f.book->FindLease("l1")->granted.usd_micros == 1);
}

TEST_CASE("a day budget starts afresh at midnight UTC and alerts again", "[budget]") {
  BudgetFixture f;
  REQUIRE(f.SetUsd(Usd(1.00), BudgetPeriod::kDay, {50}));
  f.Place("t1", "m1", "demo");
  REQUIRE(f.Ask("m1", "l1", "t1", Usd(1.00), Usd(1.00)).ok);
  f.Spend("m1", "l1", "t1", Usd(0.60));
  REQUIRE(f.sink.alerts.size() == 1);
  CHECK(f.sink.alerts[0].threshold == 50);
  CHECK(f.sink.alerts[0].period_start_ms == kMonday1200 - 12 * 3'600'000);
  f.Spend("m1", "l1", "t1", Usd(0.40));
  CHECK(f.book->Exhausted("demo"));
  CHECK(f.sink.alerts.size() == 2);  // 100: exhausted
  REQUIRE(f.Close("m1", "l1", "t1", Usd(1.00)).ok);

  f.clock.now = kMonday1200 + 12 * 3'600'000 - 1;  // 23:59:59.999
  f.book->Tick();
  CHECK(f.fx.replenished.empty());
  f.clock.now += 1;  // Tuesday 00:00
  f.book->Tick();
  CHECK(f.fx.replenished == std::vector<std::string>{"demo"});
  CHECK_FALSE(f.book->Exhausted("demo"));
  const BudgetUsage& u = f.UsdUsage(BudgetPeriod::kDay);
  CHECK(u.spent == 0);
  CHECK(u.period_start_ms == kMonday1200 + 12 * 3'600'000);
  REQUIRE(f.Ask("m1", "l2", "t1", Usd(0.60), Usd(0.60)).ok);
  f.Spend("m1", "l2", "t1", Usd(0.60));
  REQUIRE(f.sink.alerts.size() == 3);
  CHECK(f.sink.alerts[2].threshold == 50);
  CHECK(f.sink.alerts[2].period_start_ms == kMonday1200 + 12 * 3'600'000);
  auto totals = f.book->Usage("demo");
  REQUIRE(totals);
  CHECK(totals->totals.usd_micros == Usd(1.60));
}

TEST_CASE("a budget exhausted before a restart is replenished when its period ended meanwhile",
          "[budget]") {
  BudgetFixture f;
  REQUIRE(f.SetUsd(Usd(1.00), BudgetPeriod::kDay));
  f.Place("t1", "m1", "demo");
  REQUIRE(f.Ask("m1", "l1", "t1", Usd(1.00), Usd(1.00)).ok);
  f.Spend("m1", "l1", "t1", Usd(1.00));
  REQUIRE(f.book->Exhausted("demo"));
  f.Reload();
  CHECK(f.book->Exhausted("demo"));  // same day: still exhausted, no effect fired
  CHECK(f.fx.replenished.empty());
  f.clock.now += kDayMs;
  f.Reload();
  CHECK(f.book->Exhausted("demo"));  // as it was, until the first tick
  f.book->Tick();
  CHECK_FALSE(f.book->Exhausted("demo"));
  CHECK(f.fx.replenished == std::vector<std::string>{"demo"});
}

TEST_CASE("alerts fire once per threshold per period and survive a reload", "[budget]") {
  BudgetFixture f;
  REQUIRE(f.SetUsd(Usd(1.00)));
  f.Place("t1", "m1", "demo");
  REQUIRE(f.Ask("m1", "l1", "t1", Usd(1.00), Usd(1.00)).ok);
  f.Spend("m1", "l1", "t1", Usd(0.80));
  REQUIRE(f.sink.alerts.size() == 1);
  const BudgetAlert& a = f.sink.alerts[0];
  CHECK(a.project == "demo");
  CHECK(a.resource == BudgetResource::kUsd);
  CHECK(a.threshold == 75);
  CHECK(a.spent == Usd(0.80));
  CHECK(a.limit == Usd(1.00));
  CHECK(AlertText(a) ==
        "autovibe: project demo used 75% of its usd budget (total): $0.80 of $1.00");
  f.Spend("m1", "l1", "t1", Usd(0.05));
  CHECK(f.sink.alerts.size() == 1);
  f.Reload();
  f.Spend("m1", "l1", "t1", Usd(0.01));  // 86%: nothing new, 75 was sent before the restart
  CHECK(f.sink.alerts.size() == 1);
  f.Spend("m1", "l1", "t1", Usd(0.10));  // 96%: 90
  REQUIRE(f.sink.alerts.size() == 2);
  CHECK(f.sink.alerts[1].threshold == 90);
  auto stored = f.book->Alerts("demo");
  REQUIRE(stored);
  REQUIRE(stored->size() == 2);
  CHECK((*stored)[0].threshold == 90);  // newest first
  auto none = f.book->Alerts("other");
  REQUIRE(none);
  CHECK(none->empty());
}

TEST_CASE("an expired lease keeps its reservation until closed or its machine restarts",
          "[budget]") {
  BudgetFixture f;
  REQUIRE(f.SetUsd(Usd(1.00)));
  f.Place("t1", "m1", "demo");
  f.Place("t2", "m2", "demo");
  REQUIRE(f.Ask("m1", "l1", "t1", Usd(0.60), Usd(0.60)).ok);
  CHECK(f.book->FindLease("l1")->expires_at_ms == f.clock.now + 30'000);
  f.Spend("m1", "l1", "t1", Usd(0.10));
  f.clock.now += 10 * 60'000;
  f.book->Tick();
  // Cut off, the agent may have spent up to its grant before its lease ran out.
  CHECK(f.book->Outstanding("demo").usd_micros == Usd(0.50));
  CHECK_FALSE(f.Ask("m2", "l2", "t2", Usd(0.50), Usd(0.50)).ok);
  f.book->MachineRestarted("m2");  // another machine: nothing changes
  CHECK(f.book->Outstanding("demo").usd_micros == Usd(0.50));
  f.book->MachineRestarted("m1");
  CHECK(f.book->Outstanding("demo").usd_micros == 0);
  CHECK(f.book->FindLease("l1") == nullptr);
  CHECK(f.Ask("m2", "l2", "t2", Usd(0.50), Usd(0.90)).ok);
  // A machine forgotten for good also releases closed leases still waiting for records.
  REQUIRE(f.Close("m2", "l2", "t2", Usd(0.30)).ok);
  CHECK(f.book->Outstanding("demo").usd_micros == Usd(0.30));
  f.book->MachineRestarted("m2");
  CHECK(f.book->Outstanding("demo").usd_micros == Usd(0.30));  // its outbox still sends them
  f.book->MachineForgotten("m2");
  CHECK(f.book->Outstanding("demo").usd_micros == 0);
  CHECK(f.book->lease_count() == 0);
}

TEST_CASE("leases, spend and exhaustion survive a reload", "[budget]") {
  BudgetFixture f;
  Budget tokens{BudgetResource::kTokens, BudgetPeriod::kTotal, 1000, {75, 90}, false};
  Budget usd{BudgetResource::kUsd, BudgetPeriod::kWeek, Usd(5), {75, 90}, true};
  REQUIRE(f.book->SetBudgets("demo", {tokens, usd}));
  f.Place("t1", "m1", "demo");
  auto req = BudgetFixture::Request("m1", "l1", "t1", Usd(1), Usd(2));
  req.need_total.tokens = 500;
  req.want_total.tokens = 2000;
  auto r = f.book->Grant("m1", req);
  REQUIRE(r.ok);
  CHECK(r.granted_total.tokens == 1000);
  f.Spend("m1", "l1", "t1", Usd(0.50));  // 120 tokens
  const Amounts before = f.book->Outstanding("demo");
  CHECK(before.tokens == 880);
  CHECK(before.usd_micros == Usd(1.50));
  f.Reload();
  CHECK(f.book->Outstanding("demo") == before);
  CHECK(f.book->Budgets("demo") == std::vector<Budget>{usd, tokens});  // resource order
  CHECK(f.book->FindLease("l1")->settled.usd_micros == Usd(0.50));
  CHECK(f.UsdUsage(BudgetPeriod::kWeek).spent == Usd(0.50));
  // Past the tokens limit: stop.
  req.need_total.tokens = 1200;
  auto denied = f.book->Grant("m1", req);
  CHECK_FALSE(denied.ok);
  CHECK(denied.denied_resource == "tokens");
  CHECK(denied.on_exhaust == "stop");
  CHECK(denied.message.find("--tokens N") != std::string::npos);
  REQUIRE(f.book->Exhausted("demo"));
  f.Reload();
  CHECK(f.book->Exhausted("demo"));
  CHECK(f.fx.exhausted.size() == 1);
}

TEST_CASE("bad budgets are refused and change nothing", "[budget]") {
  BudgetFixture f;
  REQUIRE(f.SetUsd(Usd(1.00)));
  const std::vector<Budget> before = f.book->Budgets("demo");
  Budget ok{BudgetResource::kUsd, BudgetPeriod::kDay, Usd(2), {75, 90}, true};
  Budget negative = ok, zero_threshold = ok, big_threshold = ok;
  negative.limit = -1;
  zero_threshold.alert_at = {0};
  big_threshold.alert_at = {101};
  for (const auto& set : std::vector<std::vector<Budget>>{
           {ok, negative}, {ok, zero_threshold}, {big_threshold}, {ok, ok}}) {
    auto r = f.book->SetBudgets("demo", set);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == ErrorCode::kBadRequest);
    CHECK(f.book->Budgets("demo") == before);
  }
  f.Reload();
  CHECK(f.book->Budgets("demo") == before);
}

TEST_CASE("budgets the store refuses change nothing, inside a batch too", "[budget]") {
  BudgetFixture f;
  REQUIRE(f.store->Begin());
  REQUIRE(f.SetUsd(Usd(3.00)));
  // No such project in the store: the foreign key refuses the rows.
  auto r = f.SetUsd(Usd(1.00), BudgetPeriod::kTotal, {75, 90}, "ghost");
  REQUIRE_FALSE(r);
  CHECK(r.error().code == ErrorCode::kStore);
  CHECK(f.book->Budgets("ghost").empty());
  REQUIRE(f.store->Commit());
  f.Reload();
  REQUIRE(f.book->Budgets("demo").size() == 1);
  CHECK(f.book->Budgets("demo")[0].limit == Usd(3.00));
  CHECK(f.book->Budgets("ghost").empty());
}

TEST_CASE("usage queries group by model, machine, task and day", "[budget]") {
  BudgetFixture f;
  f.Place("t1", "m1", "demo");
  f.Place("t2", "m2", "demo");
  f.Spend("m1", "l1", "t1", Usd(0.10), "opus");
  f.Spend("m1", "l1", "t1", Usd(0.20), "sonnet");
  f.clock.now += kDayMs;
  f.Spend("m2", "l2", "t2", Usd(0.40), "opus");
  UsageReport time;
  time.task_id = "t2";
  time.attempt = 1;
  time.lease_id = "l2";
  time.kind = "time";
  time.task_ms = 1500;
  time.machine_ms = 2000;
  REQUIRE(f.book->ApplyUsage("m2", f.clock.now, time, "time-1"));
  UsageReport unreachable = BudgetFixture::Llm("l2", "t2", 0, "opus");
  unreachable.status = "unreachable";
  unreachable.input_tokens = 0;
  unreachable.output_tokens = 0;
  REQUIRE(f.book->ApplyUsage("m2", f.clock.now, unreachable, "down-1"));

  auto by = [&](UsageGroupBy g, int64_t since = 0) {
    UsageQuery q;
    q.group_by = g;
    q.since_ms = since;
    auto rows = f.book->UsageBy(q);
    REQUIRE(rows);
    std::map<std::string, UsageGroupRow> out;
    for (const auto& r : *rows) out[r.key] = r;
    return out;
  };
  auto models = by(UsageGroupBy::kModel);
  CHECK(models.at("opus").cost_micros == Usd(0.50));
  CHECK(models.at("opus").calls == 2);  // the unreachable call is no api call
  CHECK(models.at("opus").input_tokens == 200);
  CHECK(models.at("opus").tokens == 240);
  CHECK(models.at("sonnet").cost_micros == Usd(0.20));
  CHECK(models.at("").task_ms == 1500);
  auto machines = by(UsageGroupBy::kMachine);
  CHECK(machines.at("m1").cost_micros == Usd(0.30));
  CHECK(machines.at("m2").machine_ms == 2000);
  auto tasks = by(UsageGroupBy::kTask);
  CHECK(tasks.at("t1").calls == 2);
  CHECK(tasks.at("t2").calls == 1);
  auto days = by(UsageGroupBy::kDay);
  CHECK(days.at("2026-11-30").cost_micros == Usd(0.30));
  CHECK(days.at("2026-12-01").cost_micros == Usd(0.40));
  auto since = by(UsageGroupBy::kNone, f.clock.now - 1000);
  REQUIRE(since.size() == 1);
  CHECK(since.at("").cost_micros == Usd(0.40));
  CHECK(since.at("").calls == 1);
  UsageQuery other;
  other.project = "other";
  CHECK(f.book->UsageBy(other)->empty());
}

TEST_CASE("usage shows burn rate and a forecast of exhaustion", "[budget]") {
  BudgetFixture f;
  REQUIRE(f.SetUsd(Usd(10.00)));
  f.Place("t1", "m1", "demo");
  CHECK_FALSE(f.UsdUsage().forecast_exhausted_at_ms.has_value());
  REQUIRE(f.Ask("m1", "l1", "t1", Usd(3.00), Usd(3.00)).ok);
  f.clock.now -= 2 * 3'600'000;
  f.Spend("m1", "l1", "t1", Usd(1.00));  // two hours ago: not in the last hour
  f.clock.now += 2 * 3'600'000;
  f.Spend("m1", "l1", "t1", Usd(2.00));
  const BudgetUsage& u = f.UsdUsage();
  CHECK(u.spent == Usd(3.00));
  CHECK(u.reserved == 0);
  CHECK(u.remaining == Usd(7.00));
  CHECK(u.percent_used == Approx(30.0));
  CHECK(u.burn_per_hour == Approx(Usd(2.00)));
  REQUIRE(u.forecast_exhausted_at_ms);
  CHECK(*u.forecast_exhausted_at_ms == f.clock.now + 7 * 3'600'000 / 2);
  CHECK_FALSE(u.exhausted);
}
