#include "controller/budgets/periods.h"

#include <fmt/format.h>

#include <chrono>

namespace autovibe {
namespace {

using namespace std::chrono;

sys_days Day(int64_t unix_ms) { return floor<days>(sys_time<milliseconds>(milliseconds(unix_ms))); }

int64_t Ms(sys_days d) { return duration_cast<milliseconds>(d.time_since_epoch()).count(); }

// Reads exactly `n` digits at `pos`.
std::optional<int> Digits(std::string_view s, size_t& pos, size_t n) {
  if (pos + n > s.size()) return std::nullopt;
  int v = 0;
  for (size_t i = 0; i < n; ++i) {
    const char c = s[pos + i];
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + (c - '0');
  }
  pos += n;
  return v;
}

bool Take(std::string_view s, size_t& pos, std::string_view one_of) {
  if (pos >= s.size() || one_of.find(s[pos]) == std::string_view::npos) return false;
  ++pos;
  return true;
}

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

std::optional<int64_t> ParseRfc3339Ms(std::string_view s) {
  size_t pos = 0;
  auto y = Digits(s, pos, 4);
  if (!y || !Take(s, pos, "-")) return std::nullopt;
  auto mo = Digits(s, pos, 2);
  if (!mo || !Take(s, pos, "-")) return std::nullopt;
  auto d = Digits(s, pos, 2);
  if (!d) return std::nullopt;
  const year_month_day ymd(year(*y), month(static_cast<unsigned>(*mo)),
                           day(static_cast<unsigned>(*d)));
  if (!ymd.ok()) return std::nullopt;
  int64_t ms = Ms(sys_days(ymd));
  if (pos == s.size()) return ms;  // a date alone: midnight UTC
  if (!Take(s, pos, "Tt ")) return std::nullopt;
  auto h = Digits(s, pos, 2);
  if (!h || *h > 23 || !Take(s, pos, ":")) return std::nullopt;
  auto mi = Digits(s, pos, 2);
  if (!mi || *mi > 59 || !Take(s, pos, ":")) return std::nullopt;
  auto sec = Digits(s, pos, 2);
  if (!sec || *sec > 60) return std::nullopt;
  ms += ((int64_t{*h} * 60 + *mi) * 60 + *sec) * 1000;
  if (Take(s, pos, ".")) {
    const size_t first = pos;
    int64_t scale = 100;
    for (; pos < s.size() && s[pos] >= '0' && s[pos] <= '9'; ++pos, scale /= 10) {
      ms += (s[pos] - '0') * scale;
    }
    if (pos == first) return std::nullopt;
  }
  if (pos < s.size() && (s[pos] == '+' || s[pos] == '-')) {
    const int sign = s[pos++] == '-' ? -1 : 1;
    auto oh = Digits(s, pos, 2);
    if (!oh || *oh > 23 || !Take(s, pos, ":")) return std::nullopt;
    auto om = Digits(s, pos, 2);
    if (!om || *om > 59) return std::nullopt;
    ms -= sign * (int64_t{*oh} * 60 + *om) * 60'000;
  } else if (!Take(s, pos, "Zz")) {
    return std::nullopt;
  }
  if (pos != s.size()) return std::nullopt;
  return ms;
}

}  // namespace autovibe
