#include "worker-agent/meter/rate_limit.h"

#include <algorithm>

namespace autovibe::meter {
namespace {

std::chrono::seconds SecondsUntil(RateLimiter::Clock::time_point when,
                                  RateLimiter::Clock::time_point now) {
  auto wait = std::chrono::ceil<std::chrono::seconds>(when - now);
  return std::max(wait, std::chrono::seconds(1));
}

}  // namespace

RateLimiter::RateLimiter(uint32_t requests_per_minute, uint64_t tokens_per_minute)
    : rpm_(requests_per_minute), tpm_(tokens_per_minute) {}

void RateLimiter::Expire(Window& w, Clock::time_point now) {
  while (!w.entries.empty() && w.entries.front().at + kWindow <= now) {
    w.tokens -= w.entries.front().tokens;
    w.entries.pop_front();
  }
}

// Tasks that stopped calling would otherwise keep their windows for the agent's lifetime.
void RateLimiter::Sweep(Clock::time_point now) {
  for (auto it = windows_.begin(); it != windows_.end();) {
    Expire(it->second, now);
    it = it->second.entries.empty() ? windows_.erase(it) : std::next(it);
  }
}

RateLimiter::Verdict RateLimiter::Admit(const std::string& task_id, int64_t tokens,
                                        Clock::time_point now) {
  if (!enabled()) return {Ticket{task_id, 0}};
  if (++admitted_ % 4096 == 0) Sweep(now);
  Window& w = windows_[task_id];
  Expire(w, now);
  if (rpm_ > 0 && w.entries.size() >= rpm_) {
    return {std::nullopt, SecondsUntil(w.entries[w.entries.size() - rpm_].at + kWindow, now)};
  }
  if (tpm_ > 0 && !w.entries.empty() &&
      w.tokens + tokens > static_cast<int64_t>(std::min<uint64_t>(tpm_, INT64_MAX))) {
    // Wait until enough of the window has expired to make room (or all of it).
    int64_t excess = w.tokens + tokens - static_cast<int64_t>(tpm_);
    Clock::time_point until = w.entries.back().at + kWindow;
    for (const Entry& e : w.entries) {
      excess -= e.tokens;
      if (excess <= 0) {
        until = e.at + kWindow;
        break;
      }
    }
    return {std::nullopt, SecondsUntil(until, now)};
  }
  uint64_t seq = next_seq_++;
  w.entries.push_back(Entry{now, tokens, seq});
  w.tokens += tokens;
  return {Ticket{task_id, seq}};
}

void RateLimiter::Correct(const Ticket& ticket, int64_t tokens) {
  if (ticket.seq == 0) return;
  auto it = windows_.find(ticket.task_id);
  if (it == windows_.end()) return;
  auto& entries = it->second.entries;
  auto e = std::lower_bound(entries.begin(), entries.end(), ticket.seq,
                            [](const Entry& x, uint64_t seq) { return x.seq < seq; });
  if (e == entries.end() || e->seq != ticket.seq) return;  // already out of the window
  it->second.tokens += tokens - e->tokens;
  e->tokens = tokens;
}

}  // namespace autovibe::meter
