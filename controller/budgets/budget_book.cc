// Budgets, periods, alerts and queries. Leases and spend are in budget_book_leases.cc.
#include "controller/budgets/budget_book.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>

#include "controller/budgets/periods.h"

namespace autovibe {
namespace {

constexpr int64_t kHourMs = 3'600'000;
// A burn rate measured over less than this is extrapolated from this much, not from seconds.
constexpr int64_t kMinBurnWindowMs = 60'000;

bool Crossed(int64_t spent, int64_t limit, int threshold) {
  return limit > 0 &&
         static_cast<__int128>(spent) * 100 >= static_cast<__int128>(threshold) * limit;
}

template <class State>
void SortByResourceAndPeriod(std::vector<State>& budgets) {
  std::sort(budgets.begin(), budgets.end(), [](const State& a, const State& b) {
    return std::pair(a.budget.resource, a.budget.period) <
           std::pair(b.budget.resource, b.budget.period);
  });
}

std::string CliFlag(BudgetResource r) {
  std::string flag(ToString(r));
  std::replace(flag.begin(), flag.end(), '_', '-');
  return "--" + flag;
}

}  // namespace

BudgetBook::BudgetBook(BudgetStore& store, const Clock& clock, const TaskLookup& tasks,
                       BudgetEffects& effects, AlertSink& alerts, BudgetBookOptions options)
    : store_(store),
      clock_(clock),
      tasks_(tasks),
      effects_(effects),
      alerts_(alerts),
      options_(options) {}

BudgetBook::~BudgetBook() = default;

bool BudgetBook::AnyExhausted(const ProjectState& p) {
  return std::any_of(p.budgets.begin(), p.budgets.end(),
                     [](const BudgetState& b) { return b.exhausted; });
}

BudgetBook::ProjectState& BudgetBook::Project(const std::string& name) {
  auto it = projects_.find(name);
  if (it == projects_.end()) it = projects_.emplace(name, ProjectState{}).first;
  return it->second;
}

const BudgetBook::ProjectState* BudgetBook::FindProject(std::string_view name) const {
  auto it = projects_.find(name);
  return it == projects_.end() ? nullptr : &it->second;
}

Result<BudgetBook::BudgetState> BudgetBook::StartPeriod(const std::string& project, const Budget& b,
                                                        int64_t start_ms) {
  BudgetState s;
  s.budget = b;
  s.period_start_ms = start_ms;
  s.period_end_ms = PeriodEndMs(b.period, start_ms);
  auto spent = store_.SumUsage(project, start_ms);
  if (!spent) return spent.error();
  s.spent = (*spent)[b.resource];
  auto alerted = store_.AlertedThresholds(project, b.resource, b.period, start_ms);
  if (!alerted) return alerted.error();
  s.alerted = std::move(*alerted);
  return s;
}

Result<void> BudgetBook::SaveBudgets(const std::string& project, const ProjectState& p) {
  std::vector<StoredBudget> rows;
  for (const BudgetState& b : p.budgets) {
    StoredBudget row{project, b.budget, std::nullopt};
    if (b.exhausted) row.exhausted_period_start_ms = b.period_start_ms;
    rows.push_back(std::move(row));
  }
  return store_.SaveBudgets(project, rows);
}

Result<void> BudgetBook::Load() {
  const int64_t now = clock_.NowMs();
  auto budgets = store_.LoadBudgets();
  if (!budgets) return budgets.error();
  for (const StoredBudget& row : *budgets) {
    // An exhausted budget resumes in the period it ran out in; if that period has ended, the
    // first Tick() starts the next one and replenishes the project.
    const int64_t start =
        row.exhausted_period_start_ms.value_or(PeriodStartMs(row.budget.period, now));
    auto s = StartPeriod(row.project, row.budget, start);
    if (!s) return s.error();
    s->exhausted = row.exhausted_period_start_ms.has_value() || s->spent >= row.budget.limit;
    Project(row.project).budgets.push_back(std::move(*s));
  }
  for (auto& [name, p] : projects_) SortByResourceAndPeriod(p.budgets);
  auto totals = store_.SumUsageByProject();
  if (!totals) return totals.error();
  for (const auto& [project, amounts] : *totals) Project(project).all_time = amounts;
  auto leases = store_.LoadLeases();
  if (!leases) return leases.error();
  for (Lease& l : *leases) {
    auto t = Task(l.task_id);
    if (!t) return t.error();
    const Amounts reserved = Reserved(l);
    Project(l.project).outstanding += reserved;
    (*t)->reserved_usd += reserved.usd_micros;
    ++(*t)->leases;
    if (!l.closed) ++(*t)->open_leases;
    std::string id = l.id;
    leases_.emplace(std::move(id), std::move(l));
  }
  spdlog::info("budgets loaded projects={} leases={}", projects_.size(), leases_.size());
  return {};
}

Result<void> BudgetBook::SetBudgets(const std::string& project, std::vector<Budget> budgets) {
  if (auto r = ValidateBudgets(budgets); !r) return r;
  ProjectState& p = Project(project);
  const int64_t now = clock_.NowMs();
  const bool was_exhausted = AnyExhausted(p);
  // Every read first, so a store failure changes nothing.
  std::vector<BudgetState> next;
  for (Budget& b : budgets) {
    std::sort(b.alert_at.begin(), b.alert_at.end());
    b.alert_at.erase(std::unique(b.alert_at.begin(), b.alert_at.end()), b.alert_at.end());
    auto old = std::find_if(p.budgets.begin(), p.budgets.end(), [&](const BudgetState& s) {
      return s.budget.resource == b.resource && s.budget.period == b.period;
    });
    if (old == p.budgets.end()) {
      auto s = StartPeriod(project, b, PeriodStartMs(b.period, now));
      if (!s) return s.error();
      next.push_back(std::move(*s));
      continue;
    }
    BudgetState s = *old;
    s.budget = b;
    // Raised so that something fits again: no longer exhausted. Anything else (the same
    // limit, a lower one) leaves it as it was.
    if (s.exhausted && b.limit > old->budget.limit &&
        b.limit - s.spent - p.outstanding[b.resource] > 0) {
      s.exhausted = false;
    }
    next.push_back(std::move(s));
  }
  SortByResourceAndPeriod(next);
  std::swap(p.budgets, next);
  if (auto r = SaveBudgets(project, p); !r) {
    p.budgets = std::move(next);  // as it was: the store did not take the new set
    return r;
  }
  CheckThresholds(project, p);
  const bool exhausted = AnyExhausted(p);
  spdlog::info("budgets of project {} set: {} budgets{}", project, p.budgets.size(),
               exhausted ? ", exhausted" : "");
  if (was_exhausted && !exhausted) effects_.BudgetReplenished(project);
  return {};
}

std::vector<Budget> BudgetBook::Budgets(std::string_view project) const {
  std::vector<Budget> out;
  if (const ProjectState* p = FindProject(project)) {
    for (const BudgetState& b : p->budgets) out.push_back(b.budget);
  }
  return out;
}

bool BudgetBook::Exhausted(std::string_view project) const {
  return ExhaustedBy(project).has_value();
}

bool BudgetBook::HasRoom(std::string_view project, BudgetResource resource) const {
  const ProjectState* p = FindProject(project);
  if (p == nullptr) return true;
  for (const BudgetState& b : p->budgets) {
    if (b.budget.resource != resource) continue;
    if (b.exhausted || b.spent + p->outstanding[resource] >= b.budget.limit) return false;
  }
  return true;
}

std::optional<ExhaustedBudget> BudgetBook::ExhaustedBy(std::string_view project) const {
  const ProjectState* p = FindProject(project);
  if (p == nullptr) return std::nullopt;
  for (const BudgetState& b : p->budgets) {
    if (!b.exhausted) continue;
    return ExhaustedBudget{
        b.budget.resource, b.budget.period, b.budget.pause,
        NoRoomMessage(std::string(project), b, p->outstanding[b.budget.resource], true)};
  }
  return std::nullopt;
}

void BudgetBook::Tick() {
  const int64_t now = clock_.NowMs();
  for (auto& [project, p] : projects_) {
    const bool was_exhausted = AnyExhausted(p);
    bool rolled = false;
    for (BudgetState& b : p.budgets) {
      if (now < b.period_end_ms) continue;
      auto s = StartPeriod(project, b.budget, PeriodStartMs(b.budget.period, now));
      if (!s) {
        spdlog::error("budget period of project {} cannot start: {}", project, s.error().message);
        continue;
      }
      b = std::move(*s);
      rolled = true;
    }
    if (!rolled) continue;
    if (auto r = SaveBudgets(project, p); !r) {
      spdlog::error("budgets of project {} not saved: {}", project, r.error().message);
    }
    CheckThresholds(project, p);
    if (was_exhausted && !AnyExhausted(p)) {
      spdlog::info("budgets of project {} replenished: a new period began", project);
      effects_.BudgetReplenished(project);
    }
  }
}

void BudgetBook::CheckThresholds(const std::string& project, ProjectState& p) {
  for (BudgetState& b : p.budgets) {
    for (int t : b.budget.alert_at) {
      if (t < kExhaustedThreshold && Crossed(b.spent, b.budget.limit, t))
        RecordAlert(project, b, t);
    }
    if (!b.exhausted && b.spent >= b.budget.limit) {
      MarkExhausted(project, p, b,
                    NoRoomMessage(project, b, p.outstanding[b.budget.resource], true));
    }
  }
}

void BudgetBook::MarkExhausted(const std::string& project, ProjectState& p, BudgetState& b,
                               const std::string& message) {
  b.exhausted = true;
  if (auto r = SaveBudgets(project, p); !r) {
    spdlog::error("budgets of project {} not saved: {}", project, r.error().message);
  }
  spdlog::warn("{}", message);
  RecordAlert(project, b, kExhaustedThreshold);
  effects_.BudgetExhausted(project, std::string(ToString(b.budget.resource)), message,
                           b.budget.pause);
}

void BudgetBook::RecordAlert(const std::string& project, BudgetState& b, int threshold) {
  if (std::find(b.alerted.begin(), b.alerted.end(), threshold) != b.alerted.end()) return;
  b.alerted.push_back(threshold);
  BudgetAlert a{project,   b.budget.resource, b.budget.period, b.period_start_ms,
                threshold, b.spent,           b.budget.limit,  clock_.NowMs()};
  auto fresh = store_.InsertAlert(a);
  if (!fresh) {
    spdlog::error("budget alert not recorded: {}", fresh.error().message);
    return;
  }
  if (*fresh) alerts_.Alert(a);  // recorded before (a restart): sent then
}

std::string BudgetBook::NoRoomMessage(const std::string& project, const BudgetState& b,
                                      int64_t reserved, bool exhausted, int64_t need) const {
  const BudgetResource r = b.budget.resource;
  std::string raise = fmt::format("autovibe budget set {} {} N", project, CliFlag(r));
  if (b.budget.period != BudgetPeriod::kTotal) {
    raise += fmt::format(" --period {}", ToString(b.budget.period));
  }
  // A call is admitted only if its worst case fits: say how much that was, or a budget with
  // money left looks broken.
  const std::string asked =
      need > 0 ? fmt::format(", and the next call needs up to {} more (its worst case)",
                             HumanAmount(r, need))
               : "";
  return fmt::format("{} of project {} {}: spent {} + reserved {} of {}{}; raise it with: {}",
                     BudgetName(b.budget), project,
                     exhausted ? "is exhausted" : "has no room left now (running tasks hold it)",
                     HumanAmount(r, b.spent), HumanAmount(r, reserved),
                     HumanAmount(r, b.budget.limit), asked, raise);
}

Result<ProjectUsage> BudgetBook::Usage(const std::string& project) {
  ProjectUsage out;
  out.project = project;
  const ProjectState* p = FindProject(project);
  if (p == nullptr) return out;
  out.totals = p->all_time;
  const int64_t now = clock_.NowMs();
  std::map<int64_t, Amounts> burned;  // since -> spend, shared by budgets with one window
  for (const BudgetState& b : p->budgets) {
    const BudgetResource r = b.budget.resource;
    BudgetUsage u;
    u.budget = b.budget;
    u.period_start_ms = b.period_start_ms;
    u.spent = b.spent;
    u.reserved = p->outstanding[r];
    u.remaining = std::max<int64_t>(0, b.budget.limit - u.spent - u.reserved);
    u.percent_used = b.budget.limit > 0 ? 100.0 * static_cast<double>(u.spent) /
                                              static_cast<double>(b.budget.limit)
                                        : 100.0;
    u.exhausted = b.exhausted;
    const int64_t since = std::max(now - kHourMs, b.period_start_ms);
    if (!burned.contains(since)) {
      auto s = store_.SumUsage(project, since);
      if (!s) return s.error();
      burned[since] = *s;
    }
    const int64_t window = std::max(now - since, kMinBurnWindowMs);
    u.burn_per_hour = static_cast<double>(burned[since][r]) * kHourMs / static_cast<double>(window);
    if (u.burn_per_hour > 0) {
      u.forecast_exhausted_at_ms =
          now + static_cast<int64_t>(static_cast<double>(u.remaining) / u.burn_per_hour * kHourMs);
    }
    out.budgets.push_back(std::move(u));
  }
  return out;
}

Result<std::vector<UsageGroupRow>> BudgetBook::UsageBy(const UsageQuery& q) {
  return store_.GroupUsage(q);
}

Result<std::vector<BudgetAlert>> BudgetBook::Alerts(std::string_view project, size_t limit) {
  return store_.LoadAlerts(project, limit);
}

Amounts BudgetBook::Outstanding(std::string_view project) const {
  const ProjectState* p = FindProject(project);
  return p == nullptr ? Amounts{} : p->outstanding;
}

std::vector<ProjectGauges> BudgetBook::Gauges() const {
  std::vector<ProjectGauges> out;
  out.reserve(projects_.size());
  for (const auto& [name, p] : projects_) {
    ProjectGauges g{.project = name, .all_time = p.all_time, .outstanding = p.outstanding};
    for (const BudgetState& b : p.budgets) {
      g.budgets.push_back({.budget = b.budget, .spent = b.spent, .exhausted = b.exhausted});
    }
    out.push_back(std::move(g));
  }
  return out;
}

const Lease* BudgetBook::FindLease(std::string_view id) const {
  auto it = leases_.find(id);
  return it == leases_.end() ? nullptr : &it->second;
}

}  // namespace autovibe
