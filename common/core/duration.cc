#include "common/core/duration.h"

#include <charconv>
#include <limits>

namespace autovibe {
namespace {

struct Unit {
  std::string_view name;
  int64_t ms;
};
// Longest names first so "ms" is not read as "m" followed by junk.
constexpr Unit kUnits[] = {
    {"ms", 1}, {"s", 1000}, {"m", 60'000}, {"h", 3'600'000}, {"d", 86'400'000}};

Error Bad(std::string_view text, std::string_view why) {
  return MakeError(ErrorCode::kBadRequest, "invalid duration \"" + std::string(text) +
                                               "\": " + std::string(why) +
                                               " (write e.g. 500ms, 2s, 30m, 1h)");
}

}  // namespace

Result<Duration> ParseDuration(std::string_view text) {
  if (text.empty()) return Bad(text, "empty");
  int64_t total = 0;
  std::string_view rest = text;
  while (!rest.empty()) {
    int64_t n = 0;
    auto [ptr, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), n);
    if (ec == std::errc::result_out_of_range) return Bad(text, "number too large");
    if (ec != std::errc() || n < 0) return Bad(text, "expected a number");
    rest.remove_prefix(ptr - rest.data());
    const Unit* unit = nullptr;
    for (const Unit& u : kUnits) {
      if (rest.starts_with(u.name)) {
        unit = &u;
        break;
      }
    }
    if (unit == nullptr) return Bad(text, rest.empty() ? "missing unit" : "unknown unit");
    rest.remove_prefix(unit->name.size());
    if (n > (std::numeric_limits<int64_t>::max() - total) / unit->ms) {
      return Bad(text, "too long");
    }
    total += n * unit->ms;
  }
  return Duration(total);
}

std::string FormatDuration(Duration d) {
  const int64_t ms = d.count();
  for (auto it = std::rbegin(kUnits); it != std::rend(kUnits); ++it) {
    if (ms != 0 && ms % it->ms == 0) return std::to_string(ms / it->ms) + std::string(it->name);
  }
  return std::to_string(ms) + "ms";
}

}  // namespace autovibe
