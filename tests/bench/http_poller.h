// Bench support: GETs one URL at a steady pace on its own thread and remembers every answer,
// so a measurement window can ask what happened inside it.
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace autovibe::bench {

using SteadyClock = std::chrono::steady_clock;

class HttpPoller {
 public:
  // Starts polling now, one GET every `every` (a slow answer delays the next, never bunches).
  HttpPoller(std::string url, std::chrono::milliseconds every);
  ~HttpPoller();
  HttpPoller(const HttpPoller&) = delete;
  HttpPoller& operator=(const HttpPoller&) = delete;

  // GETs sent in [from, to).
  int CountBetween(SteadyClock::time_point from, SteadyClock::time_point to);
  // The slowest successful answer to a GET sent in [from, to), in ms; NaN if none.
  double MaxMsBetween(SteadyClock::time_point from, SteadyClock::time_point to);
  // GETs that failed or answered other than 200.
  int failures();

 private:
  struct Sample {
    SteadyClock::time_point sent;
    double ms;
    bool ok;
  };
  void Loop();

  std::string url_;
  std::chrono::milliseconds every_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::vector<Sample> samples_;
  std::thread thread_;
};

}  // namespace autovibe::bench
