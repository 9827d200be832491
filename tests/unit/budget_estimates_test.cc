// Calls in flight when a lease closes without their records (controller/budgets/
// budget_book_estimates.cc): charged in full as estimates, replaced by their own records when
// those come, and never charged twice. A real SQLite store, as in the other budget tests.
#include <sqlite3.h>

#include <catch2/catch.hpp>

#include "common/budget/usage.h"
#include "tests/unit/budget_test_fixture.h"

using namespace autovibe;
using namespace autovibe::testing;

namespace {

struct Row {
  int64_t cost = 0;
  int64_t input_tokens = 0;
  bool estimated = false;
  std::string status;
  bool corrected = false;
  int64_t estimate_cost = 0;
};

// The ledger's rows by event id, as a user querying controller.db sees them.
std::map<std::string, Row> Ledger(BudgetFixture& f) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open_v2((f.dir / "c.db").c_str(), &db, SQLITE_OPEN_READONLY, nullptr) ==
          SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  REQUIRE(
      sqlite3_prepare_v2(db,
                         "SELECT event_id, cost_micros, input_tokens, estimated, status,"
                         " corrected_at_ms IS NOT NULL, estimate_cost_micros FROM usage_records",
                         -1, &st, nullptr) == SQLITE_OK);
  std::map<std::string, Row> out;
  while (sqlite3_step(st) == SQLITE_ROW) {
    out[reinterpret_cast<const char*>(sqlite3_column_text(st, 0))] = Row{
        sqlite3_column_int64(st, 1),    sqlite3_column_int64(st, 2),
        sqlite3_column_int(st, 3) != 0, reinterpret_cast<const char*>(sqlite3_column_text(st, 4)),
        sqlite3_column_int(st, 5) != 0, sqlite3_column_int64(st, 6)};
  }
  sqlite3_finalize(st);
  sqlite3_close(db);
  return out;
}

Reservation Call(const std::string& id, int64_t usd, int64_t tokens = 5000) {
  return {id, {.usd_micros = usd, .tokens = tokens, .api_calls = 1}};
}

LeaseReply AskHolding(BudgetFixture& f, std::vector<Reservation> held, int64_t need = Usd(1)) {
  auto req = BudgetFixture::Request("m1", "l1", "t1", need, need);
  // As the agent asks: room for the calls' tokens and api calls too.
  req.need_total.tokens = req.want_total.tokens = 1'000'000;
  req.need_total.api_calls = req.want_total.api_calls = 100;
  req.held = std::move(held);
  return f.book->Grant("m1", req);
}

// A call's own record, as the agent sends it under the reservation's id.
UsageReport Real(int64_t cost) { return BudgetFixture::Llm("l1", "t1", cost); }

UsageReport AgentEstimate(const Amounts& reserved) {
  const UsageFigures e = EstimateFor(reserved);
  UsageReport r = BudgetFixture::Llm("l1", "t1", e.cost_micros);
  r.input_tokens = e.input_tokens;
  r.output_tokens = 0;
  r.status = std::string(e.status);
  r.estimated = true;
  return r;
}

}  // namespace

TEST_CASE("a lease closed by an agent restart charges its calls in flight in full, once",
          "[budget]") {
  BudgetFixture f;
  REQUIRE(f.SetUsd(Usd(5)));
  f.Place("t1", "m1", "demo");
  REQUIRE(AskHolding(f, {Call("e-r1", Usd(0.40)), Call("e-r2", Usd(0.30))}).ok);
  f.Spend("m1", "l1", "t1", Usd(0.10));  // a call the controller heard of
  CHECK(f.UsdUsage().spent == Usd(0.10));

  f.book->MachineRestarted("m1");
  CHECK(f.UsdUsage().spent == Usd(0.10 + 0.40 + 0.30));
  CHECK(f.UsdUsage().reserved == 0);
  CHECK(f.book->FindLease("l1") == nullptr);
  auto ledger = Ledger(f);
  REQUIRE(ledger.size() == 3);
  CHECK(ledger["e-r1"].estimated);
  CHECK(ledger["e-r1"].status == "unsettled");
  CHECK(ledger["e-r1"].cost == Usd(0.40));
  CHECK(ledger["e-r1"].input_tokens == 5000);
  CHECK(ledger["e-r2"].cost == Usd(0.30));
  f.book->MachineRestarted("m1");  // again: nothing more
  CHECK(f.UsdUsage().spent == Usd(0.80));

  SECTION("a call's own record replaces its estimate, once") {
    REQUIRE(f.book->ApplyUsage("m1", f.clock.now, Real(Usd(0.12)), "e-r1"));
    CHECK(f.UsdUsage().spent == Usd(0.10 + 0.12 + 0.30));
    REQUIRE(f.book->ApplyUsage("m1", f.clock.now, Real(Usd(0.12)), "e-r1"));  // redelivered
    CHECK(f.UsdUsage().spent == Usd(0.52));
    ledger = Ledger(f);
    CHECK_FALSE(ledger["e-r1"].estimated);
    CHECK(ledger["e-r1"].cost == Usd(0.12));
    CHECK(ledger["e-r1"].corrected);
    CHECK(ledger["e-r1"].estimate_cost == Usd(0.40));
    CHECK(ledger["e-r1"].status == "ok");
    CHECK_FALSE(ledger["e-r2"].corrected);
    // What a restart of the controller reads back agrees.
    f.Reload();
    CHECK(f.UsdUsage().spent == Usd(0.52));
  }
  SECTION("the agent's own estimate of the same call changes nothing") {
    REQUIRE(
        f.book->ApplyUsage("m1", f.clock.now, AgentEstimate(Call("", Usd(0.30)).amounts), "e-r2"));
    CHECK(f.UsdUsage().spent == Usd(0.80));
    CHECK(Ledger(f).size() == 3);
  }
  SECTION("a call the controller never heard of is charged by the agent's estimate") {
    REQUIRE(
        f.book->ApplyUsage("m1", f.clock.now, AgentEstimate(Call("", Usd(0.25)).amounts), "e-r3"));
    CHECK(f.UsdUsage().spent == Usd(1.05));
    CHECK(Ledger(f)["e-r3"].estimated);
  }
}

TEST_CASE("a call whose record came before the close is not estimated", "[budget]") {
  BudgetFixture f;
  REQUIRE(f.SetUsd(Usd(5)));
  f.Place("t1", "m1", "demo");
  REQUIRE(AskHolding(f, {Call("e-r1", Usd(0.40)), Call("e-r2", Usd(0.30))}).ok);
  // The first call settled after the agent's last request listed it.
  REQUIRE(f.book->ApplyUsage("m1", f.clock.now, Real(Usd(0.05)), "e-r1"));
  f.book->MachineForgotten("m1");
  CHECK(f.UsdUsage().spent == Usd(0.05 + 0.30));
  auto ledger = Ledger(f);
  CHECK_FALSE(ledger["e-r1"].estimated);
  CHECK_FALSE(ledger["e-r1"].corrected);
  CHECK(ledger["e-r2"].estimated);
  CHECK(f.book->lease_count() == 0);
}

TEST_CASE("the calls a lease lists are the last request's, kept across a controller restart",
          "[budget]") {
  BudgetFixture f;
  REQUIRE(f.SetUsd(Usd(5)));
  f.Place("t1", "m1", "demo");
  REQUIRE(AskHolding(f, {Call("e-r1", Usd(0.40)), Call("e-r2", Usd(0.30))}).ok);
  REQUIRE(AskHolding(f, {Call("e-r2", Usd(0.30)), Call("e-r3", Usd(0.20))}).ok);
  f.Reload();
  f.book->MachineRestarted("m1");
  auto ledger = Ledger(f);
  CHECK(ledger.count("e-r1") == 0);  // settled (its record on its way): not estimated
  CHECK(ledger["e-r2"].cost == Usd(0.30));
  CHECK(ledger["e-r3"].cost == Usd(0.20));
  CHECK(f.UsdUsage().spent == Usd(0.50));
}

TEST_CASE("estimates never charge more than the lease was granted", "[budget]") {
  BudgetFixture f;
  REQUIRE(f.SetUsd(Usd(5)));
  f.Place("t1", "m1", "demo");
  // An agent that lists more in flight than it was granted (broken, or hostile).
  REQUIRE(AskHolding(f, {Call("e-r1", Usd(0.40)), Call("e-r2", Usd(0.90)), Call("e-r3", Usd(0.50))},
                     Usd(1))
              .ok);
  f.book->MachineRestarted("m1");
  CHECK(f.UsdUsage().spent == Usd(0.90));  // r1 and r3 fit in the $1 granted; r2 does not
  CHECK(Ledger(f).count("e-r2") == 0);
}

TEST_CASE("an agent that closes a lease with calls in flight has them charged in full",
          "[budget]") {
  BudgetFixture f;
  REQUIRE(f.SetUsd(Usd(5)));
  f.Place("t1", "m1", "demo");
  REQUIRE(AskHolding(f, {}).ok);
  f.Spend("m1", "l1", "t1", Usd(0.10));
  auto close = BudgetFixture::Request("m1", "l1", "t1", 0, 0);
  close.close = true;
  close.consumed.usd_micros = Usd(0.10);
  close.held = {Call("e-r9", Usd(0.20))};
  REQUIRE(f.book->Grant("m1", close).ok);
  CHECK(f.UsdUsage().spent == Usd(0.30));
  CHECK(f.UsdUsage().reserved == 0);
  REQUIRE(f.book->ApplyUsage("m1", f.clock.now, Real(Usd(0.07)), "e-r9"));
  CHECK(f.UsdUsage().spent == Usd(0.17));
}
