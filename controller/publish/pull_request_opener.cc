#include "controller/publish/pull_request_opener.h"

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

namespace autovibe {

namespace asio = boost::asio;

struct PullRequestOpener::Job {
  PullRequestSpec spec;
  Done done;
  OnRetry on_retry;
  int attempts = 0;
};

PullRequestOpener::PullRequestOpener(asio::io_context& owner, Forge& forge, RetryPolicy policy,
                                     After after)
    : owner_(owner), forge_(forge), policy_(policy), after_(std::move(after)) {
  if (!after_) {
    after_ = [this, alive = alive_](std::chrono::milliseconds delay, std::function<void()> then) {
      auto timer = std::make_shared<asio::steady_timer>(owner_, delay);
      timer->async_wait([timer, alive, then = std::move(then)](boost::system::error_code ec) {
        if (!ec && *alive) then();
      });
    };
  }
}

PullRequestOpener::~PullRequestOpener() { Stop(); }

void PullRequestOpener::Stop() {
  *alive_ = false;
  work_.join();
}

void PullRequestOpener::Open(PullRequestSpec spec, Done done, OnRetry on_retry) {
  if (!*alive_) return;
  ++pending_;
  Attempt(std::make_shared<Job>(Job{std::move(spec), std::move(done), std::move(on_retry)}));
}

void PullRequestOpener::Attempt(const std::shared_ptr<Job>& job) {
  ++job->attempts;
  // The spec is read on the worker while the owner holds the job: nothing writes it meanwhile.
  asio::post(work_, [this, alive = alive_, job] {
    if (!*alive) return;
    auto result = forge_.OpenPullRequest(job->spec);
    asio::post(owner_, [this, alive, job, result = std::move(result)]() mutable {
      if (*alive) Finish(std::move(job), std::move(result));
    });
  });
}

void PullRequestOpener::Finish(std::shared_ptr<Job> job, Result<PullRequest> result) {
  if (!result && IsRetryable(result.error())) {
    const double unit = std::uniform_real_distribution<double>(0.0, 1.0)(random_);
    if (auto delay = RetryDelay(policy_, job->attempts, unit)) {
      if (job->on_retry) job->on_retry(job->attempts, result.error(), *delay);
      after_(*delay, [this, job] { Attempt(job); });
      return;
    }
  }
  --pending_;
  job->done(PullRequestOutcome{std::move(result), job->attempts});
}

}  // namespace autovibe
