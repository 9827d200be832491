// Per-task limits on requests and tokens per minute, over a sliding window of the last 60
// seconds. A call counts its worst-case tokens when admitted and its real ones once settled.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <unordered_map>

namespace autovibe::meter {

class RateLimiter {
 public:
  using Clock = std::chrono::steady_clock;
  static constexpr std::chrono::seconds kWindow{60};

  // 0: no limit.
  RateLimiter(uint32_t requests_per_minute, uint64_t tokens_per_minute);

  struct Ticket {
    std::string task_id;
    uint64_t seq = 0;  // 0: not counted (no limits)
  };

  // Counts a call of `tokens` for the task and returns its ticket, or returns how long to
  // wait (whole seconds, at least 1) when it would go over a limit. A call is always admitted
  // into an empty window, so one call above the token limit is not refused forever.
  struct Verdict {
    std::optional<Ticket> ticket;
    std::chrono::seconds retry_after{0};
  };
  Verdict Admit(const std::string& task_id, int64_t tokens, Clock::time_point now);

  // The call of `ticket` used `tokens` in the end.
  void Correct(const Ticket& ticket, int64_t tokens);

  bool enabled() const { return rpm_ > 0 || tpm_ > 0; }

 private:
  struct Entry {
    Clock::time_point at;
    int64_t tokens;
    uint64_t seq;
  };
  struct Window {
    std::deque<Entry> entries;
    int64_t tokens = 0;
  };
  void Expire(Window& w, Clock::time_point now);
  void Sweep(Clock::time_point now);

  uint32_t rpm_;
  uint64_t tpm_;
  uint64_t next_seq_ = 1;
  uint64_t admitted_ = 0;
  std::unordered_map<std::string, Window> windows_;
};

}  // namespace autovibe::meter
