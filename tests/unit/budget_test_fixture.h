// Shared by the budget tests: a BudgetBook on a real SQLite store in a temporary directory,
// with a manual clock and recording fakes for the task book, the effects and the alert sink.
#pragma once

#include <catch2/catch.hpp>
#include <map>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include "controller/budgets/budget_book.h"
#include "controller/store/store.h"
#include "tests/support/catch_result.h"
#include "tests/support/process.h"

namespace autovibe::testing {

// Monday 2026-11-30 12:00:00 UTC.
inline constexpr int64_t kMonday1200 = 1'796'040'000'000;
inline constexpr int64_t kDayMs = 86'400'000;

inline int64_t Usd(double dollars) { return static_cast<int64_t>(dollars * 1'000'000 + 0.5); }

class ManualClock final : public Clock {
 public:
  int64_t NowMs() const override { return now; }
  int64_t now = kMonday1200;
};

struct FakeTasks final : TaskLookup {
  std::map<std::string, LeaseTaskInfo, std::less<>> tasks;
  std::optional<LeaseTaskInfo> TaskForLease(std::string_view id) const override {
    auto it = tasks.find(id);
    if (it == tasks.end()) return std::nullopt;
    return it->second;
  }
};

struct FakeEffects final : BudgetEffects {
  struct Exhausted {
    std::string project, resource, message;
    bool pause;
  };
  std::vector<Exhausted> exhausted;
  std::vector<std::string> replenished;
  std::vector<std::pair<std::string, std::string>> capped;  // task, message
  void BudgetExhausted(const std::string& project, const std::string& resource,
                       const std::string& message, bool pause) override {
    exhausted.push_back({project, resource, message, pause});
  }
  void BudgetReplenished(const std::string& project) override { replenished.push_back(project); }
  void TaskCapReached(const std::string& task, const std::string& message) override {
    capped.emplace_back(task, message);
  }
};

struct FakeAlerts final : AlertSink {
  std::vector<BudgetAlert> alerts;
  void Alert(const BudgetAlert& a) override { alerts.push_back(a); }
};

struct BudgetFixture {
  TempDir dir;
  std::unique_ptr<Store> store = *OpenSqliteStore(dir / "c.db");
  ManualClock clock;
  FakeTasks tasks;
  FakeEffects fx;
  FakeAlerts sink;
  BudgetBookOptions options;
  std::unique_ptr<BudgetBook> book;
  int next_event = 1;

  BudgetFixture() {
    AddProject("demo");
    Reload();
  }

  void AddProject(const std::string& name) {
    REQUIRE(store->tasks().InsertProject({name, clock.now}));
  }

  // A new book loaded from the store, as after a controller restart.
  void Reload() {
    book = std::make_unique<BudgetBook>(store->budgets(), clock, tasks, fx, sink, options);
    REQUIRE(book->Load());
  }

  void Place(const std::string& task, const std::string& machine, const std::string& project,
             int64_t max_usd = 0, uint32_t attempt = 1) {
    tasks.tasks[task] = LeaseTaskInfo{project, machine, attempt, true, max_usd, false};
  }

  Result<void> SetUsd(int64_t limit, BudgetPeriod period = BudgetPeriod::kTotal,
                      std::vector<int> alert_at = {75, 90}, const std::string& project = "demo") {
    Budget b;
    b.resource = BudgetResource::kUsd;
    b.period = period;
    b.limit = limit;
    b.alert_at = std::move(alert_at);
    return book->SetBudgets(project, {b});
  }

  static LeaseRequest Request(const std::string& machine, const std::string& lease,
                              const std::string& task, int64_t need_usd, int64_t want_usd,
                              const std::string& project = "demo") {
    return {.machine_id = machine,
            .lease_id = lease,
            .task_id = task,
            .attempt = 1,
            .project = project,
            .need_total = {.usd_micros = need_usd},
            .want_total = {.usd_micros = want_usd}};
  }

  LeaseReply Ask(const std::string& machine, const std::string& lease, const std::string& task,
                 int64_t need_usd, int64_t want_usd, const std::string& project = "demo") {
    return book->Grant(machine, Request(machine, lease, task, need_usd, want_usd, project));
  }

  LeaseReply Close(const std::string& machine, const std::string& lease, const std::string& task,
                   int64_t consumed_usd, const std::string& project = "demo") {
    LeaseRequest r = Request(machine, lease, task, 0, 0, project);
    r.close = true;
    r.consumed.usd_micros = consumed_usd;
    return book->Grant(machine, r);
  }

  static UsageReport Llm(const std::string& lease, const std::string& task, int64_t cost,
                         const std::string& model = "claude-sonnet",
                         const std::string& project = "demo") {
    return {.task_id = task,
            .attempt = 1,
            .project = project,
            .lease_id = lease,
            .kind = "llm",
            .provider = "anthropic",
            .model = model,
            .route = "/v1/messages",
            .input_tokens = 100,
            .output_tokens = 20,
            .cost_micros = cost,
            .status = "ok"};
  }

  // Applies a usage record with a fresh event id, under `lease` (opened for the task, with
  // nothing granted, if the machine holds none of that name: usage counts only under a lease);
  // returns the id.
  std::string Spend(const std::string& machine, const std::string& lease, const std::string& task,
                    int64_t cost, const std::string& model = "claude-sonnet") {
    if (book->FindLease(lease) == nullptr) {
      REQUIRE(tasks.tasks.contains(task));
      book->Grant(machine, Request(machine, lease, task, 0, 0, tasks.tasks.at(task).project));
      REQUIRE(book->FindLease(lease) != nullptr);
    }
    const std::string id = "ev-" + std::to_string(next_event++);
    REQUIRE(book->ApplyUsage(machine, clock.now, Llm(lease, task, cost, model), id));
    return id;
  }

  const BudgetUsage& UsdUsage(BudgetPeriod period = BudgetPeriod::kTotal) {
    auto u = book->Usage("demo");
    REQUIRE(u);
    last_usage = std::move(*u);
    for (const BudgetUsage& b : last_usage.budgets) {
      if (b.budget.resource == BudgetResource::kUsd && b.budget.period == period) return b;
    }
    FAIL("no usd budget");
    return last_usage.budgets.front();
  }
  ProjectUsage last_usage;
};

}  // namespace autovibe::testing
