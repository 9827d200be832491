#include "controller/budgets/periods.h"

#include <fmt/format.h>

#include <chrono>

namespace autovibe {
namespace {

using namespace std::chrono;

sys_days Day(int64_t unix_ms) { return floor<days>(sys_time<milliseconds>(milliseconds(unix_ms))); }

int64_t Ms(sys_days d) { return duration_cast<milliseconds>(d.time_since_epoch()).count(); }

}  // namespace

int64_t PeriodStartMs(BudgetPeriod p, int64_t at_ms) {
  const sys_days d = Day(at_ms);
  switch (p) {
    case BudgetPeriod::kTotal:
      return 0;
    case BudgetPeriod::kDay:
      return Ms(d);
    case BudgetPeriod::kWeek:
      return Ms(d - (weekday(d) - Monday));
    case BudgetPeriod::kMonth: {
      const year_month_day ymd(d);
      return Ms(sys_days(ymd.year() / ymd.month() / 1));
    }
  }
  return 0;
}

int64_t PeriodEndMs(BudgetPeriod p, int64_t start_ms) {
  const sys_days d = Day(start_ms);
  switch (p) {
    case BudgetPeriod::kTotal:
      return kForever;
    case BudgetPeriod::kDay:
      return Ms(d + days(1));
    case BudgetPeriod::kWeek:
      return Ms(d + days(7));
    case BudgetPeriod::kMonth: {
      const year_month_day ymd(d);
      return Ms(sys_days((ymd.year() / ymd.month() / 1) + months(1)));
    }
  }
  return kForever;
}

std::string UtcDate(int64_t unix_ms) {
  const year_month_day ymd(Day(unix_ms));
  return fmt::format("{:04}-{:02}-{:02}", static_cast<int>(ymd.year()),
                     static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()));
}

}  // namespace autovibe
