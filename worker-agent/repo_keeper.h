// The agent's side of repository tasks (worker-agent/repo/): before such a task's tool starts,
// fetches its repository into the machine's mirror and checks it out into the workspace; after
// the tool ends, reads what it changed into a commit, a diff and a bundle (TaskFinished.repo),
// and hands those files to the controller (FetchResult).
//
// Its methods are for the agent's owner thread; git runs on threads of the keeper's, and the
// answers come back to the owner thread.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/thread_pool.hpp>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "autovibe/v1/command.pb.h"
#include "autovibe/v1/event.pb.h"
#include "common/core/result.h"
#include "worker-agent/repo/paths.h"
#include "worker-agent/repo/retention.h"
#include "worker-agent/repo/workspace_repo.h"

namespace autovibe {

class RepoKeeper {
 public:
  RepoKeeper(boost::asio::io_context& owner, std::string data_dir, repo::RepoLimits limits = {},
             repo::RetentionPolicy retention = {});
  // Waits for the git runs under way; their answers are dropped.
  ~RepoKeeper();
  RepoKeeper(const RepoKeeper&) = delete;
  RepoKeeper& operator=(const RepoKeeper&) = delete;

  // Makes the workspace of `task` (which has a repo) ready: fetched and checked out, or, when
  // the workspace already holds the task's files (`seeded`: a checkpoint, an earlier attempt),
  // only the agent's git dir for it. `done` runs on the owner thread, never before Seed
  // returns. Asked again for the same attempt while under way, both get the one answer.
  // Errors: repo_unavailable (with git's reason), bad_url, io; a checkout that failed leaves
  // no workspace behind.
  void Seed(const v1::RunTask& task, bool seeded, std::function<void(Result<void>)> done);

  // Reads the workspace into the task's result (see repo::Harvest).
  void Harvest(const std::string& task_id, const v1::RepoSpec& spec,
               std::function<void(v1::RepoResult)> done);

  // Pushes the task's result branch (repo::PushResult); `done` on the owner thread.
  void Push(const v1::Command& cmd, std::function<void(v1::CommandReply)> done);

  // Applies the retention policy (repo::Sweep) off the owner thread, leaving `live` tasks'
  // workspaces alone; the disk use it measures is disk_use() from then on. One sweep at a
  // time: asked again meanwhile, it is skipped.
  void Sweep(std::set<std::string> live);
  const repo::DiskUse& disk_use() const { return disk_use_; }

  // Writes a piece of a task's bundle the controller kept (PutResult), for a push from here.
  v1::CommandReply Put(const v1::Command& cmd) const;

  // A piece of a result file for the controller; at most 1 MiB.
  v1::CommandReply Fetch(const v1::Command& cmd) const;

 private:
  template <class T>
  void OffThread(std::function<T()> work, std::function<void(T)> done);

  boost::asio::io_context& owner_;
  const std::string data_dir_;
  const repo::RepoPaths paths_;
  const repo::RepoLimits limits_;
  // Seeds under way, by "task/attempt": who waits for each.
  std::map<std::string, std::vector<std::function<void(Result<void>)>>> seeding_;
  const repo::RetentionPolicy retention_;
  repo::DiskUse disk_use_;
  bool sweeping_ = false;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
  // Makes spare checkouts (repo/spare.h), one at a time, apart from the seeds and results.
  boost::asio::thread_pool spares_{1};
  boost::asio::thread_pool pool_{2};  // last, so joined first
};

}  // namespace autovibe
