#include "tests/bench/http_poller.h"

#include <algorithm>
#include <cmath>

#include "common/http/client.h"

namespace autovibe::bench {

HttpPoller::HttpPoller(std::string url, std::chrono::milliseconds every)
    : url_(std::move(url)), every_(every) {
  thread_ = std::thread([this] { Loop(); });
}

HttpPoller::~HttpPoller() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

int HttpPoller::CountBetween(SteadyClock::time_point from, SteadyClock::time_point to) {
  std::lock_guard lock(mu_);
  return static_cast<int>(std::count_if(samples_.begin(), samples_.end(), [&](const Sample& s) {
    return s.sent >= from && s.sent < to;
  }));
}

double HttpPoller::MaxMsBetween(SteadyClock::time_point from, SteadyClock::time_point to) {
  std::lock_guard lock(mu_);
  double worst = NAN;
  for (const Sample& s : samples_) {
    if (s.ok && s.sent >= from && s.sent < to && !(s.ms <= worst)) worst = s.ms;
  }
  return worst;
}

int HttpPoller::failures() {
  std::lock_guard lock(mu_);
  return static_cast<int>(
      std::count_if(samples_.begin(), samples_.end(), [](const Sample& s) { return !s.ok; }));
}

void HttpPoller::Loop() {
  auto next = SteadyClock::now();
  std::unique_lock lock(mu_);
  while (!stop_) {
    lock.unlock();
    HttpCall call;
    call.url = url_;
    call.timeout = std::chrono::seconds(10);
    const auto sent = SteadyClock::now();
    auto reply = SendHttp(call);
    const double ms = std::chrono::duration<double, std::milli>(SteadyClock::now() - sent).count();
    lock.lock();
    samples_.push_back({sent, ms, reply && reply->status == 200});
    next = std::max(next + every_, SteadyClock::now());
    cv_.wait_until(lock, next, [this] { return stop_; });
  }
}

}  // namespace autovibe::bench
