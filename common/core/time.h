// Wall-clock helpers. Times cross process boundaries as Unix milliseconds or nanoseconds.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

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

// RFC 3339 UTC with milliseconds: "2026-11-22T01:39:42.123Z". 0 gives "".
std::string FormatRfc3339(int64_t unix_ms);

}  // namespace autovibe
