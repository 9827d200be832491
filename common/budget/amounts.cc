#include "common/budget/amounts.h"

#include <algorithm>
#include <charconv>

namespace autovibe {
namespace {

constexpr int64_t kMaxWholeDollars = 9'000'000'000;

}  // namespace

std::string_view ToString(BudgetResource r) {
  switch (r) {
    case BudgetResource::kUsd:
      return "usd";
    case BudgetResource::kTokens:
      return "tokens";
    case BudgetResource::kApiCalls:
      return "api_calls";
    case BudgetResource::kTaskSeconds:
      return "task_seconds";
    case BudgetResource::kMachineSeconds:
      return "machine_seconds";
  }
  return "?";
}

std::optional<BudgetResource> ParseBudgetResource(std::string_view text) {
  for (BudgetResource r : kAllBudgetResources) {
    if (ToString(r) == text) return r;
  }
  return std::nullopt;
}

int64_t& Amounts::operator[](BudgetResource r) {
  switch (r) {
    case BudgetResource::kUsd:
      return usd_micros;
    case BudgetResource::kTokens:
      return tokens;
    case BudgetResource::kApiCalls:
      return api_calls;
    case BudgetResource::kTaskSeconds:
      return task_ms;
    case BudgetResource::kMachineSeconds:
      return machine_ms;
  }
  return usd_micros;
}

int64_t Amounts::operator[](BudgetResource r) const { return (*const_cast<Amounts*>(this))[r]; }

Amounts& Amounts::operator+=(const Amounts& o) {
  for (BudgetResource r : kAllBudgetResources) (*this)[r] += o[r];
  return *this;
}

Amounts& Amounts::operator-=(const Amounts& o) {
  for (BudgetResource r : kAllBudgetResources) (*this)[r] -= o[r];
  return *this;
}

bool Amounts::FitsIn(const Amounts& o) const {
  return std::all_of(std::begin(kAllBudgetResources), std::end(kAllBudgetResources),
                     [&](BudgetResource r) { return (*this)[r] <= o[r]; });
}

Amounts Amounts::Max(const Amounts& a, const Amounts& b) {
  Amounts m;
  for (BudgetResource r : kAllBudgetResources) m[r] = std::max(a[r], b[r]);
  return m;
}

Amounts Amounts::Min(const Amounts& a, const Amounts& b) {
  Amounts m;
  for (BudgetResource r : kAllBudgetResources) m[r] = std::min(a[r], b[r]);
  return m;
}

Result<int64_t> ParseUsd(std::string_view text) {
  auto bad = [&] {
    return MakeError(
        ErrorCode::kBadRequest,
        "expected an amount of dollars such as 5 or 0.25, got \"" + std::string(text) + "\"");
  };
  const size_t dot = text.find('.');
  std::string_view whole = text.substr(0, dot);
  std::string_view frac = dot == std::string_view::npos ? "" : text.substr(dot + 1);
  if (whole.empty() && frac.empty()) return bad();
  if (dot != std::string_view::npos && frac.empty()) return bad();
  if (frac.size() > 6) {
    return MakeError(ErrorCode::kBadRequest,
                     "at most 6 decimals (micro-dollars) in \"" + std::string(text) + "\"");
  }
  auto digits = [](std::string_view s) {
    return std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
  };
  if (!digits(whole) || !digits(frac) || whole.size() > 10) return bad();
  int64_t dollars = 0;
  if (!whole.empty()) std::from_chars(whole.data(), whole.data() + whole.size(), dollars);
  if (dollars > kMaxWholeDollars) return bad();
  std::string micros_text(frac);
  micros_text.resize(6, '0');
  int64_t micros = 0;
  std::from_chars(micros_text.data(), micros_text.data() + micros_text.size(), micros);
  return dollars * 1'000'000 + micros;
}

std::string FormatUsd(int64_t micros) {
  const bool negative = micros < 0;
  const uint64_t m = negative ? 0 - static_cast<uint64_t>(micros) : static_cast<uint64_t>(micros);
  std::string frac = std::to_string(m % 1'000'000);
  frac.insert(0, 6 - frac.size(), '0');
  while (frac.size() > 2 && frac.back() == '0') frac.pop_back();
  return (negative ? "-" : "") + std::to_string(m / 1'000'000) + "." + frac;
}

}  // namespace autovibe
