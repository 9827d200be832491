#include "common/core/time.h"

#include <ctime>

namespace autovibe {
namespace {

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

int64_t SystemClock::NowMs() const {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

int64_t UnixNowNs() {
  using namespace std::chrono;
  return duration_cast<nanoseconds>(system_clock::now().time_since_epoch()).count();
}

std::string FormatRfc3339(int64_t unix_ms) {
  if (unix_ms <= 0) return "";
  std::time_t secs = static_cast<std::time_t>(unix_ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[40];
  size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  std::snprintf(buf + n, sizeof buf - n, ".%03dZ", static_cast<int>(unix_ms % 1000));
  return buf;
}

std::optional<int64_t> ParseRfc3339Ms(std::string_view s, DateAlone date_alone) {
  using namespace std::chrono;
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
  int64_t ms = duration_cast<milliseconds>(sys_days(ymd).time_since_epoch()).count();
  if (pos == s.size()) {
    if (date_alone == DateAlone::kMidnightUtc) return ms;
    return std::nullopt;
  }
  if (!Take(s, pos, "Tt ")) return std::nullopt;
  auto h = Digits(s, pos, 2);
  if (!h || *h > 23 || !Take(s, pos, ":")) return std::nullopt;
  auto mi = Digits(s, pos, 2);
  if (!mi || *mi > 59 || !Take(s, pos, ":")) return std::nullopt;
  auto sec = Digits(s, pos, 2);
  // 60 seconds is a leap second; counted as the next second's start.
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
