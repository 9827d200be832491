// Repository tasks' results, kept by the controller: once a task with a change ends, its diff
// and bundle are fetched from the agent that made them into <data_dir>/results/<task>/, so
// they outlive the machine; once it succeeds (after approval, when it has a review gate) its
// branch is pushed to the repository's remote when the task asks for that, retried with
// backoff until it goes through, and the outcome is written into the task's change.
//
// Owner-thread only: TaskChanged is called for every task change (TaskObserver fan-out).
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "controller/model/audit_log.h"
#include "controller/model/task.h"
#include "controller/publish/pull_request_opener.h"
#include "controller/results/result_agents.h"

namespace autovibe {

class TaskBook;

struct ResultKeeperDeps {
  boost::asio::io_context* ioc = nullptr;
  ResultAgents* agents = nullptr;
  TaskBook* book = nullptr;
  std::string data_dir;
  std::function<std::optional<std::string>(const std::string& name)> secret;  // may be null
  uint64_t max_result_bytes = 64ull << 20;  // a bigger diff plus bundle is not kept
  // Opens the pull requests of tasks that publish "pr"; null: none is opened (they fail).
  PullRequestOpener* pull_requests = nullptr;
  // A result the controller keeps goes this long after its task ended (not while it awaits
  // review). 0: kept for ever.
  std::chrono::milliseconds retention = std::chrono::hours(30 * 24);
  // Wall-clock milliseconds (the tasks' finished_at).
  std::function<int64_t()> now_ms;
  // Machines that take work now, to push from when the one that made a result is gone.
  std::function<std::vector<std::string>()> ready_machines;
  AuditLog* audit = nullptr;  // results removed past retention are written here
};

class ResultKeeper {
 public:
  explicit ResultKeeper(ResultKeeperDeps deps);
  ~ResultKeeper();
  ResultKeeper(const ResultKeeper&) = delete;
  ResultKeeper& operator=(const ResultKeeper&) = delete;

  void TaskChanged(const TaskRecord& t);

  // Removes the results past retention (their change says so: stored false, error "expired").
  // Returns how many went. Called now and then (Start).
  size_t Expire();
  // Expires results now, and from then on a few times within the retention (at most hourly).
  void Start();

  // The stored "diff" or "bundle" of a task; "" when the controller holds none.
  std::string FilePath(const std::string& task_id, const std::string& what) const;

 private:
  struct Fetching;
  void FetchNext(std::shared_ptr<Fetching> f);
  void Fetched(const std::string& task_id, const Result<void>& r);
  void StartPush(const TaskRecord& t);
  // Pushes from `machine`, giving it the kept bundle first when `upload`.
  void PushFrom(const std::string& machine, PushOrder order, bool upload, bool last_try);
  // Sends the kept bundle to `machine` from `offset`, then `then`.
  void Upload(const std::string& machine, const std::string& task_id, uint64_t offset,
              std::function<void(Result<void>)> then);
  void Pushed(const std::string& task_id, const Result<void>& r);
  // After the push, for publish "pr": opens the pull request (retried by the opener).
  void OpenPullRequest(const TaskRecord& t);
  void RetryLater(const std::string& task_id, uint32_t tries);

  ResultKeeperDeps d_;
  std::set<std::string> fetching_;
  std::set<std::string> pushing_;
  std::set<std::string> opening_;  // pull requests being opened
  std::map<std::string, uint32_t> fetch_tries_, push_tries_;
  std::map<std::string, std::unique_ptr<boost::asio::steady_timer>> retry_;
  std::unique_ptr<boost::asio::steady_timer> expiry_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace autovibe
