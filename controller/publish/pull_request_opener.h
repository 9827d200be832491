// Opens pull requests for an owner thread: each attempt's HTTP calls run on a worker thread of
// its own, the waits between attempts are timers on the owner's io_context, and the outcome
// comes back on the owner thread. The owner never blocks.
//
// Threads: construct, Open, Stop and destroy on the owner thread (the io_context's). `done`
// and `on_retry` run there too. The Forge is called from the worker thread only.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/thread_pool.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <random>
#include <set>

#include "controller/publish/forge.h"
#include "controller/publish/retry.h"

namespace autovibe {

class PullRequestOpener {
 public:
  // Runs `then` on the owner thread after `delay`; the default uses an asio steady_timer on
  // the owner's io_context. Tests pass one that records the delay and runs `then` at once.
  using After = std::function<void(std::chrono::milliseconds delay, std::function<void()> then)>;
  using Done = std::function<void(PullRequestOutcome)>;
  // An attempt failed and another follows after `delay`: for the task's log and events.
  using OnRetry =
      std::function<void(int failed_attempts, const Error& error, std::chrono::milliseconds delay)>;

  // `forge` must outlive the opener.
  PullRequestOpener(boost::asio::io_context& owner, Forge& forge, RetryPolicy policy = {},
                    After after = {});
  ~PullRequestOpener();
  PullRequestOpener(const PullRequestOpener&) = delete;
  PullRequestOpener& operator=(const PullRequestOpener&) = delete;

  // Tries until a pull request is open (or found open), the error is not retryable, or the
  // policy's attempts are spent; then calls `done` once. After Stop, nothing is called.
  void Open(PullRequestSpec spec, Done done, OnRetry on_retry = {});

  // Ends the waits and drops what is pending (no `done` runs), waiting for an attempt under way
  // to return (at most ForgeOptions::timeout per HTTP call).
  void Stop();

  // Opens in progress (an attempt running or a wait).
  size_t pending() const { return pending_; }

 private:
  struct Job;
  void Attempt(const std::shared_ptr<Job>& job);
  void Finish(std::shared_ptr<Job> job, Result<PullRequest> result);

  boost::asio::io_context& owner_;
  Forge& forge_;
  RetryPolicy policy_;
  After after_;
  boost::asio::thread_pool work_{2};
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
  std::mt19937 random_{std::random_device{}()};
  size_t pending_ = 0;
};

}  // namespace autovibe
