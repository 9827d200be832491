#include "controller/store/sqlite_budget_store.h"

#include <boost/json.hpp>

#include "controller/store/sqlite_stmt.h"

namespace autovibe {
namespace {

namespace json = boost::json;

// The five figures of Amounts, in kAllBudgetResources order, at ?first...?first+4.
void BindAmounts(Stmt& st, int first, const Amounts& a) {
  for (BudgetResource r : kAllBudgetResources) st.Bind(first++, a[r]);
}

Amounts ReadAmounts(Stmt& st, int first) {
  Amounts a;
  for (BudgetResource r : kAllBudgetResources) a[r] = st.Int(first++);
  return a;
}

std::string ThresholdsJson(const std::vector<int>& t) {
  json::array a;
  for (int v : t) a.emplace_back(v);
  return json::serialize(a);
}

// Written by us; a hand-damaged value falls back to the default, never a crash.
std::vector<int> ParseThresholds(const std::string& text) {
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec || !v.is_array()) return Budget{}.alert_at;
  std::vector<int> out;
  for (const auto& t : v.as_array()) {
    if (t.is_int64()) out.push_back(static_cast<int>(t.as_int64()));
  }
  return out;
}

// The calls in flight of a lease: [[id, usd, tokens, api_calls, task_ms, machine_ms], ...].
std::string HeldJson(const std::vector<Reservation>& held) {
  json::array a;
  for (const Reservation& r : held) {
    json::array row{json::string(r.id)};
    for (BudgetResource res : kAllBudgetResources) row.emplace_back(r.amounts[res]);
    a.emplace_back(std::move(row));
  }
  return json::serialize(a);
}

// Written by us; a hand-damaged value reads as no calls in flight.
std::vector<Reservation> ParseHeld(const std::string& text) {
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  std::vector<Reservation> out;
  if (ec || !v.is_array()) return out;
  for (const auto& item : v.as_array()) {
    const json::array* row = item.if_array();
    if (row == nullptr || row->size() != 6 || !(*row)[0].is_string()) continue;
    Reservation r{std::string((*row)[0].as_string()), {}};
    int i = 1;
    for (BudgetResource res : kAllBudgetResources) {
      if (const auto* n = (*row)[i++].if_int64()) r.amounts[res] = *n;
    }
    out.push_back(std::move(r));
  }
  return out;
}

constexpr const char* kSumColumns =
    "COALESCE(SUM(cost_micros),0),"
    " COALESCE(SUM(input_tokens+output_tokens+cache_write_tokens+cache_read_tokens),0),"
    " COALESCE(SUM(api_calls),0), COALESCE(SUM(task_ms),0), COALESCE(SUM(machine_ms),0)";

// A usage row's columns, numbered as InsertUsage lists them (?1 event_id .. ?23 api_calls).
void BindUsage(Stmt& st, const UsageRow& u) {
  st.Bind(1, u.event_id);
  st.Bind(2, u.at_ms);
  st.Bind(3, u.project);
  st.Bind(4, u.task_id);
  st.Bind(5, static_cast<int64_t>(u.attempt));
  st.Bind(6, u.machine_id);
  st.Bind(7, u.lease_id);
  st.Bind(8, u.kind);
  st.Bind(9, u.provider);
  st.Bind(10, u.model);
  st.Bind(11, u.route);
  st.Bind(12, u.input_tokens);
  st.Bind(13, u.output_tokens);
  st.Bind(14, u.cache_write_tokens);
  st.Bind(15, u.cache_read_tokens);
  st.Bind(16, u.cost_micros);
  st.Bind(17, u.task_ms);
  st.Bind(18, u.machine_ms);
  st.Bind(19, u.latency_us);
  st.Bind(20, static_cast<int64_t>(u.http_status));
  st.Bind(21, u.status);
  st.Bind(22, static_cast<int64_t>(u.estimated ? 1 : 0));
  st.Bind(23, u.api_calls);
}

std::string GroupKey(UsageGroupBy g) {
  switch (g) {
    case UsageGroupBy::kNone:
      return "''";
    case UsageGroupBy::kModel:
      return "model";
    case UsageGroupBy::kMachine:
      return "machine_id";
    case UsageGroupBy::kTask:
      return "task_id";
    case UsageGroupBy::kDay:
      return "strftime('%Y-%m-%d', at_ms / 1000, 'unixepoch')";
  }
  return "''";
}

class SqliteBudgetStore final : public BudgetStore {
 public:
  explicit SqliteBudgetStore(sqlite3* db) : db_(db) {}

  // BudgetStore
  Result<std::vector<StoredBudget>> LoadBudgets() override {
    Stmt st(db_,
            "SELECT project, resource, period, limit_amount, alert_at, on_exhaust,"
            " exhausted_period_start FROM budgets ORDER BY project, resource, period");
    if (!st.ok()) return Fail("load budgets");
    std::vector<StoredBudget> out;
    int rc;
    while ((rc = st.Step()) == SQLITE_ROW) {
      auto resource = ParseBudgetResource(st.Text(1));
      auto period = ParseBudgetPeriod(st.Text(2));
      if (!resource || !period) continue;  // not written by us
      StoredBudget b;
      b.project = st.Text(0);
      b.budget.resource = *resource;
      b.budget.period = *period;
      b.budget.limit = st.Int(3);
      b.budget.alert_at = ParseThresholds(st.Text(4));
      b.budget.pause = st.Text(5) != "stop";
      if (!st.IsNull(6)) b.exhausted_period_start_ms = st.Int(6);
      out.push_back(std::move(b));
    }
    if (rc != SQLITE_DONE) return Fail("load budgets");
    return out;
  }

  Result<void> SaveBudgets(std::string_view project,
                           const std::vector<StoredBudget>& budgets) override {
    // All or nothing, also inside the caller's transaction.
    if (sqlite3_exec(db_, "SAVEPOINT save_budgets", nullptr, nullptr, nullptr) != SQLITE_OK) {
      return Fail("save budgets");
    }
    auto r = ReplaceBudgets(project, budgets);
    if (!r) sqlite3_exec(db_, "ROLLBACK TO save_budgets", nullptr, nullptr, nullptr);
    sqlite3_exec(db_, "RELEASE save_budgets", nullptr, nullptr, nullptr);
    return r;
  }

  Result<bool> InsertUsage(const UsageRow& u) override {
    Stmt& st = Cached(insert_usage_,
                      "INSERT INTO usage_records(event_id, at_ms, project, task_id, attempt,"
                      " machine_id, lease_id, kind, provider, model, route, input_tokens,"
                      " output_tokens, cache_write_tokens, cache_read_tokens, cost_micros, task_ms,"
                      " machine_ms, latency_us, http_status, status, estimated, api_calls) VALUES"
                      " (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16,?17,?18,?19,?20,"
                      "?21,?22,?23) ON CONFLICT(event_id) DO NOTHING");
    if (!st.ok()) return Fail("insert usage");
    st.Reset();
    BindUsage(st, u);
    if (st.Step() != SQLITE_DONE) return Fail("insert usage " + u.event_id);
    return sqlite3_changes(db_) == 1;
  }

  Result<std::optional<UsageRow>> ReplaceEstimate(const UsageRow& u, int64_t now_ms) override {
    Stmt find(db_,
              "SELECT at_ms, project, task_id, cost_micros, input_tokens, output_tokens,"
              " cache_write_tokens, cache_read_tokens, api_calls, task_ms, machine_ms"
              " FROM usage_records WHERE event_id = ?1 AND estimated = 1");
    if (!find.ok()) return Fail("find estimate");
    find.Bind(1, u.event_id);
    const int rc = find.Step();
    if (rc == SQLITE_DONE) return std::optional<UsageRow>();
    if (rc != SQLITE_ROW) return Fail("find estimate " + u.event_id);
    UsageRow old;
    old.event_id = u.event_id;
    old.at_ms = find.Int(0);
    old.project = find.Text(1);
    old.task_id = find.Text(2);
    old.cost_micros = find.Int(3);
    old.input_tokens = find.Int(4);
    old.output_tokens = find.Int(5);
    old.cache_write_tokens = find.Int(6);
    old.cache_read_tokens = find.Int(7);
    old.api_calls = find.Int(8);
    old.task_ms = find.Int(9);
    old.machine_ms = find.Int(10);
    old.estimated = true;
    // Numbered as in InsertUsage (BindUsage); ?2 (at_ms), ?3 (project) and the estimated flag
    // are kept.
    Stmt st(db_,
            "UPDATE usage_records SET task_id=?4, attempt=?5, machine_id=?6, lease_id=?7,"
            " kind=?8, provider=?9, model=?10, route=?11, input_tokens=?12, output_tokens=?13,"
            " cache_write_tokens=?14, cache_read_tokens=?15, cost_micros=?16, task_ms=?17,"
            " machine_ms=?18, latency_us=?19, http_status=?20, status=?21, estimated=0,"
            " api_calls=?23, corrected_at_ms=?24, estimate_cost_micros=?25"
            " WHERE event_id=?1 AND estimated=1");
    if (!st.ok()) return Fail("replace estimate");
    BindUsage(st, u);
    st.Bind(24, now_ms);
    st.Bind(25, old.cost_micros);
    if (st.Step() != SQLITE_DONE) return Fail("replace estimate " + u.event_id);
    return std::optional<UsageRow>(std::move(old));
  }

  Result<Amounts> SumUsage(std::string_view project, int64_t since_ms) override {
    Stmt& st = Cached(sum_usage_, std::string("SELECT ") + kSumColumns +
                                      " FROM usage_records WHERE project = ?1 AND at_ms >= ?2");
    if (!st.ok()) return Fail("sum usage");
    st.Reset();
    st.Bind(1, project);
    st.Bind(2, since_ms);
    if (st.Step() != SQLITE_ROW) return Fail("sum usage");
    Amounts out = ReadAmounts(st, 0);
    st.Reset();  // a cached reader left mid-step would hold its snapshot open
    return out;
  }

  Result<std::vector<std::pair<std::string, Amounts>>> SumUsageByProject() override {
    Stmt st(db_,
            (std::string("SELECT project, ") + kSumColumns + " FROM usage_records GROUP BY project")
                .c_str());
    if (!st.ok()) return Fail("sum usage by project");
    std::vector<std::pair<std::string, Amounts>> out;
    int rc;
    while ((rc = st.Step()) == SQLITE_ROW) out.emplace_back(st.Text(0), ReadAmounts(st, 1));
    if (rc != SQLITE_DONE) return Fail("sum usage by project");
    return out;
  }

  Result<int64_t> TaskCostMicros(std::string_view task_id) override {
    Stmt& st = Cached(task_cost_,
                      "SELECT COALESCE(SUM(cost_micros),0) FROM usage_records WHERE task_id=?1");
    if (!st.ok()) return Fail("task cost");
    st.Reset();
    st.Bind(1, task_id);
    if (st.Step() != SQLITE_ROW) return Fail("task cost");
    const int64_t cost = st.Int(0);
    st.Reset();
    return cost;
  }

  Result<std::vector<UsageGroupRow>> GroupUsage(const UsageQuery& q) override {
    const std::string key = GroupKey(q.group_by);
    std::string sql = "SELECT " + key +
                      " AS k, COALESCE(SUM(api_calls),0), COALESCE(SUM(input_tokens),0),"
                      " COALESCE(SUM(output_tokens),0), COALESCE(SUM(cache_write_tokens),0),"
                      " COALESCE(SUM(cache_read_tokens),0), COALESCE(SUM(cost_micros),0),"
                      " COALESCE(SUM(task_ms),0), COALESCE(SUM(machine_ms),0)"
                      " FROM usage_records WHERE at_ms >= ?1";
    if (!q.project.empty()) sql += " AND project = ?2";
    sql += " GROUP BY k ORDER BY ";
    sql += q.group_by == UsageGroupBy::kDay ? "k" : "7 DESC, k";
    sql += " LIMIT ?3";
    Stmt st(db_, sql.c_str());
    if (!st.ok()) return Fail("group usage");
    st.Bind(1, q.since_ms);
    if (!q.project.empty()) st.Bind(2, q.project);
    st.Bind(3, static_cast<int64_t>(q.limit));
    std::vector<UsageGroupRow> out;
    int rc;
    while ((rc = st.Step()) == SQLITE_ROW) {
      UsageGroupRow r;
      r.key = st.Text(0);
      r.calls = st.Int(1);
      r.input_tokens = st.Int(2);
      r.output_tokens = st.Int(3);
      r.cache_write_tokens = st.Int(4);
      r.cache_read_tokens = st.Int(5);
      r.tokens = r.input_tokens + r.output_tokens + r.cache_write_tokens + r.cache_read_tokens;
      r.cost_micros = st.Int(6);
      r.task_ms = st.Int(7);
      r.machine_ms = st.Int(8);
      // A query without records still yields one all-zero row; an empty ledger has no rows.
      if (q.group_by == UsageGroupBy::kNone && r.calls == 0 && r.tokens == 0 &&
          r.cost_micros == 0 && r.task_ms == 0 && r.machine_ms == 0) {
        continue;
      }
      out.push_back(std::move(r));
    }
    if (rc != SQLITE_DONE) return Fail("group usage");
    return out;
  }

  Result<std::vector<Lease>> LoadLeases() override {
    Stmt st(db_,
            "SELECT id, project, task_id, attempt, machine_id, granted_usd_micros, granted_tokens,"
            " granted_api_calls, granted_task_ms, granted_machine_ms, settled_usd_micros,"
            " settled_tokens, settled_api_calls, settled_task_ms, settled_machine_ms,"
            " final_usd_micros, final_tokens, final_api_calls, final_task_ms, final_machine_ms,"
            " closed, expires_at_ms, created_at_ms, held_json FROM leases"
            " ORDER BY created_at_ms, id");
    if (!st.ok()) return Fail("load leases");
    std::vector<Lease> out;
    int rc;
    while ((rc = st.Step()) == SQLITE_ROW) {
      Lease l;
      l.id = st.Text(0);
      l.project = st.Text(1);
      l.task_id = st.Text(2);
      l.attempt = static_cast<uint32_t>(st.Int(3));
      l.machine_id = st.Text(4);
      l.granted = ReadAmounts(st, 5);
      l.settled = ReadAmounts(st, 10);
      l.final = ReadAmounts(st, 15);
      l.closed = st.Int(20) != 0;
      l.expires_at_ms = st.Int(21);
      l.created_at_ms = st.Int(22);
      l.held = ParseHeld(st.Text(23));
      out.push_back(std::move(l));
    }
    if (rc != SQLITE_DONE) return Fail("load leases");
    return out;
  }

  Result<void> SaveLease(const Lease& l) override {
    Stmt& st = Cached(save_lease_,
                      "INSERT OR REPLACE INTO leases(id, project, task_id, attempt, machine_id,"
                      " granted_usd_micros, granted_tokens, granted_api_calls, granted_task_ms,"
                      " granted_machine_ms, settled_usd_micros, settled_tokens, settled_api_calls,"
                      " settled_task_ms, settled_machine_ms, final_usd_micros, final_tokens,"
                      " final_api_calls, final_task_ms, final_machine_ms, closed, expires_at_ms,"
                      " created_at_ms, held_json) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,"
                      "?13,?14,?15,?16,?17,?18,?19,?20,?21,?22,?23,?24)");
    if (!st.ok()) return Fail("save lease");
    st.Reset();
    st.Bind(1, l.id);
    st.Bind(2, l.project);
    st.Bind(3, l.task_id);
    st.Bind(4, static_cast<int64_t>(l.attempt));
    st.Bind(5, l.machine_id);
    BindAmounts(st, 6, l.granted);
    BindAmounts(st, 11, l.settled);
    BindAmounts(st, 16, l.final);
    st.Bind(21, static_cast<int64_t>(l.closed ? 1 : 0));
    st.Bind(22, l.expires_at_ms);
    st.Bind(23, l.created_at_ms);
    st.Bind(24, HeldJson(l.held));
    if (st.Step() != SQLITE_DONE) return Fail("save lease " + l.id);
    return {};
  }

  Result<void> DeleteLease(std::string_view id) override {
    Stmt& st = Cached(delete_lease_, "DELETE FROM leases WHERE id = ?1");
    if (!st.ok()) return Fail("delete lease");
    st.Reset();
    st.Bind(1, id);
    if (st.Step() != SQLITE_DONE) return Fail("delete lease " + std::string(id));
    return {};
  }

  Result<bool> InsertAlert(const BudgetAlert& a) override {
    Stmt st(db_,
            "INSERT INTO alerts(project, resource, period, period_start_ms, threshold, spent,"
            " limit_amount, at_ms) VALUES (?1,?2,?3,?4,?5,?6,?7,?8) ON CONFLICT DO NOTHING");
    if (!st.ok()) return Fail("insert alert");
    st.Bind(1, a.project);
    st.Bind(2, ToString(a.resource));
    st.Bind(3, ToString(a.period));
    st.Bind(4, a.period_start_ms);
    st.Bind(5, static_cast<int64_t>(a.threshold));
    st.Bind(6, a.spent);
    st.Bind(7, a.limit);
    st.Bind(8, a.at_ms);
    if (st.Step() != SQLITE_DONE) return Fail("insert alert");
    return sqlite3_changes(db_) == 1;
  }

  Result<std::vector<int>> AlertedThresholds(std::string_view project, BudgetResource resource,
                                             BudgetPeriod period,
                                             int64_t period_start_ms) override {
    Stmt st(db_,
            "SELECT threshold FROM alerts WHERE project = ?1 AND resource = ?2 AND period = ?3"
            " AND period_start_ms = ?4 ORDER BY threshold");
    if (!st.ok()) return Fail("alerted thresholds");
    st.Bind(1, project);
    st.Bind(2, ToString(resource));
    st.Bind(3, ToString(period));
    st.Bind(4, period_start_ms);
    std::vector<int> out;
    int rc;
    while ((rc = st.Step()) == SQLITE_ROW) out.push_back(static_cast<int>(st.Int(0)));
    if (rc != SQLITE_DONE) return Fail("alerted thresholds");
    return out;
  }

  Result<std::vector<BudgetAlert>> LoadAlerts(std::string_view project, size_t limit) override {
    std::string sql =
        "SELECT project, resource, period, period_start_ms, threshold, spent, limit_amount, at_ms"
        " FROM alerts";
    if (!project.empty()) sql += " WHERE project = ?2";
    sql += " ORDER BY at_ms DESC, threshold DESC LIMIT ?1";
    Stmt st(db_, sql.c_str());
    if (!st.ok()) return Fail("load alerts");
    st.Bind(1, static_cast<int64_t>(limit));
    if (!project.empty()) st.Bind(2, project);
    std::vector<BudgetAlert> out;
    int rc;
    while ((rc = st.Step()) == SQLITE_ROW) {
      auto resource = ParseBudgetResource(st.Text(1));
      auto period = ParseBudgetPeriod(st.Text(2));
      if (!resource || !period) continue;
      out.push_back({st.Text(0), *resource, *period, st.Int(3), static_cast<int>(st.Int(4)),
                     st.Int(5), st.Int(6), st.Int(7)});
    }
    if (rc != SQLITE_DONE) return Fail("load alerts");
    return out;
  }

 private:
  Result<void> ReplaceBudgets(std::string_view project, const std::vector<StoredBudget>& budgets) {
    Stmt del(db_, "DELETE FROM budgets WHERE project = ?1");
    if (!del.ok()) return Fail("save budgets");
    del.Bind(1, project);
    if (del.Step() != SQLITE_DONE) return Fail("save budgets");
    Stmt ins(db_,
             "INSERT INTO budgets(project, resource, period, limit_amount, alert_at, on_exhaust,"
             " exhausted_period_start) VALUES (?1,?2,?3,?4,?5,?6,?7)");
    if (!ins.ok()) return Fail("save budgets");
    for (const StoredBudget& b : budgets) {
      ins.Reset();
      ins.Bind(1, project);
      ins.Bind(2, ToString(b.budget.resource));
      ins.Bind(3, ToString(b.budget.period));
      ins.Bind(4, b.budget.limit);
      ins.Bind(5, ThresholdsJson(b.budget.alert_at));
      ins.Bind(6, OnExhaust(b.budget));
      if (b.exhausted_period_start_ms) {
        ins.Bind(7, *b.exhausted_period_start_ms);
      } else {
        ins.BindNull(7);
      }
      if (ins.Step() != SQLITE_DONE) return Fail("save budgets of " + std::string(project));
    }
    return {};
  }

  // The statements of the hot paths (a lease request, a usage record) are prepared once.
  Stmt& Cached(std::unique_ptr<Stmt>& slot, const std::string& sql) {
    if (!slot) slot = std::make_unique<Stmt>(db_, sql.c_str());
    return *slot;
  }

  Error Fail(const std::string& what) {
    return MakeError(ErrorCode::kStore, what + ": " + sqlite3_errmsg(db_));
  }

  sqlite3* db_;
  std::unique_ptr<Stmt> insert_usage_;
  std::unique_ptr<Stmt> sum_usage_;
  std::unique_ptr<Stmt> task_cost_;
  std::unique_ptr<Stmt> save_lease_;
  std::unique_ptr<Stmt> delete_lease_;
};

}  // namespace

std::unique_ptr<BudgetStore> NewSqliteBudgetStore(sqlite3* db) {
  return std::make_unique<SqliteBudgetStore>(db);
}

}  // namespace autovibe
