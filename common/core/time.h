// Wall-clock helpers. Times cross process boundaries as Unix milliseconds or nanoseconds.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace autovibe {

// The clock seam: production uses the system clock, tests may move time by hand.
class Clock {
 public:
  virtual ~Clock() = default;
  // Wall time in Unix milliseconds.
  virtual int64_t NowMs() const = 0;
};

class SystemClock final : public Clock {
 public:
  int64_t NowMs() const override;
};

int64_t UnixNowNs();

// Seconds on the steady clock since `start` (what a duration histogram observes).
inline double SecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// RFC 3339 UTC with milliseconds: "2026-11-22T01:39:42.123Z". 0 gives "".
std::string FormatRfc3339(int64_t unix_ms);

// Whether a date alone ("2026-11-30") is read as a time: midnight UTC.
enum class DateAlone { kRefused, kMidnightUtc };

// "2026-11-30T12:00:00Z", "2026-11-30T12:00:00.250+01:00" (any fraction; 'T', 't' or a space
// between date and time) -> Unix ms; nullopt for anything else, an impossible date included.
std::optional<int64_t> ParseRfc3339Ms(std::string_view text,
                                      DateAlone date_alone = DateAlone::kRefused);

}  // namespace autovibe
