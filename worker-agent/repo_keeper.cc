#include "worker-agent/repo_keeper.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <boost/asio/post.hpp>
#include <filesystem>

#include "worker-agent/command_reply.h"
#include "worker-agent/repo/spare.h"
#include "worker-agent/runner/task_env.h"

namespace autovibe {
namespace asio = boost::asio;

constexpr uint32_t kMaxFetchBytes = 1 << 20;

namespace {

// The next task on the repository finds its files written (repo/spare.h).
void MakeSpareLater(asio::thread_pool& spares, const repo::RepoPaths& paths, const std::string& url,
                    const std::string& mirror, const std::string& base) {
  asio::post(spares, [paths, url, mirror, base] {
    const auto started = std::chrono::steady_clock::now();
    auto made = repo::MakeSpare(paths, mirror, base);
    if (!made)
      return spdlog::warn("repository {}: no spare checkout: {}", url, made.error().message);
    if (*made) {
      spdlog::info("repository {}: spare checkout at {} ready in {} ms", url, base.substr(0, 12),
                   std::chrono::duration_cast<std::chrono::milliseconds>(
                       std::chrono::steady_clock::now() - started)
                       .count());
    }
  });
}

}  // namespace

RepoKeeper::RepoKeeper(asio::io_context& owner, std::string data_dir, repo::RepoLimits limits,
                       repo::RetentionPolicy retention)
    : owner_(owner),
      data_dir_(std::move(data_dir)),
      paths_(data_dir_),
      limits_(limits),
      retention_(retention) {}

void RepoKeeper::Sweep(std::set<std::string> live) {
  if (sweeping_) return;
  sweeping_ = true;
  OffThread<repo::DiskUse>(
      [data_dir = data_dir_, live = std::move(live), policy = retention_] {
        repo::DiskUse use = repo::Sweep(data_dir, live, policy, std::chrono::system_clock::now());
        for (const std::string& what : use.removed) spdlog::info("retention removed {}", what);
        return use;
      },
      [this](repo::DiskUse use) {
        sweeping_ = false;
        use.removed.clear();
        disk_use_ = std::move(use);
      });
}

RepoKeeper::~RepoKeeper() {
  *alive_ = false;
  spares_.stop();  // a spare under way is finished, those not begun are dropped
  pool_.join();
}

template <class T>
void RepoKeeper::OffThread(std::function<T()> work, std::function<void(T)> done) {
  asio::post(pool_, [&owner = owner_, alive = alive_, work = std::move(work),
                     done = std::move(done)]() mutable {
    T result = work();
    asio::post(owner, [alive, done = std::move(done), result = std::move(result)]() mutable {
      if (*alive) done(std::move(result));
    });
  });
}

void RepoKeeper::Seed(const v1::RunTask& task, bool seeded,
                      std::function<void(Result<void>)> done) {
  const std::string key = task.task_id() + "/" + std::to_string(task.attempt());
  auto [it, fresh] = seeding_.try_emplace(key);
  it->second.push_back(std::move(done));
  if (!fresh) return;
  const std::string workspace = WorkspacePath(data_dir_, task.task_id());
  OffThread<Result<void>>(
      [paths = paths_, task, seeded, workspace, spares = &spares_]() -> Result<void> {
        const auto started = std::chrono::steady_clock::now();
        auto mirror = repo::UpdateMirror(paths, task.repo(), task.task_id());
        Result<std::string> base =
            mirror ? repo::CheckOut(paths, task.repo(), task.task_id(), *mirror, workspace, seeded)
                   : Result<std::string>(mirror.error());
        if (!base) {
          std::error_code ec;
          if (!seeded) std::filesystem::remove_all(workspace, ec);
          repo::RemoveTaskRepo(paths, task.task_id());
          return base.error();
        }
        spdlog::info("task {} repository {} at {} ready in {} ms{}", task.task_id(),
                     task.repo().url(), base->substr(0, 12),
                     std::chrono::duration_cast<std::chrono::milliseconds>(
                         std::chrono::steady_clock::now() - started)
                         .count(),
                     seeded ? " (workspace kept)" : "");
        if (!seeded) MakeSpareLater(*spares, paths, task.repo().url(), *mirror, *base);
        return {};
      },
      [this, key](Result<void> r) {
        auto node = seeding_.extract(key);
        if (node.empty()) return;
        for (auto& waiter : node.mapped()) waiter(r);
      });
}

void RepoKeeper::Harvest(const std::string& task_id, const v1::RepoSpec& spec,
                         std::function<void(v1::RepoResult)> done) {
  OffThread<v1::RepoResult>(
      [paths = paths_, limits = limits_, task_id, spec,
       workspace = WorkspacePath(data_dir_, task_id)] {
        v1::RepoResult r = repo::Harvest(paths, spec, task_id, workspace, limits);
        if (r.error().empty()) {
          spdlog::info("task {} result: branch {} base {} head {} files={} +{} -{}", task_id,
                       r.branch(), r.base().substr(0, 12), r.head().substr(0, 12),
                       r.files_changed(), r.insertions(), r.deletions());
        } else {
          spdlog::warn("task {} result not kept: {}", task_id, r.error());
        }
        return r;
      },
      std::move(done));
}

void RepoKeeper::Push(const v1::Command& cmd, std::function<void(v1::CommandReply)> done) {
  const v1::PushResult& p = cmd.push_result();
  if (!ValidTaskId(p.task_id())) {
    return done(AnswerTo(cmd, MakeError(ErrorCode::kBadRequest, "push_result needs a task id")));
  }
  OffThread<v1::CommandReply>(
      [paths = paths_, cmd] {
        const v1::PushResult& p = cmd.push_result();
        auto pushed = repo::PushResult(paths, p.repo(), p.task_id());
        if (pushed) spdlog::info("task {} result pushed to {}", p.task_id(), p.repo().url());
        return AnswerTo(cmd, pushed);
      },
      std::move(done));
}

v1::CommandReply RepoKeeper::Put(const v1::Command& cmd) const {
  const v1::PutResult& p = cmd.put_result();
  if (!ValidTaskId(p.task_id()) || p.total() > limits_.max_bundle_bytes ||
      p.offset() + p.data().size() > p.total()) {
    return AnswerTo(cmd, MakeError(ErrorCode::kBadRequest,
                                   "put_result needs a task id and a piece within its total "
                                   "(at most the agent's bundle limit)"));
  }
  const std::string dir = paths_.Result(p.task_id());
  if (auto made = MakeDirs(dir, 0700); !made) return AnswerTo(cmd, made.error());
  const std::string part = dir + "/bundle.part";
  const int flags = O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW | (p.offset() == 0 ? O_TRUNC : 0);
  const int fd = open(part.c_str(), flags, 0600);
  if (fd < 0) return AnswerTo(cmd, IoError("cannot write", part));
  const off_t size = lseek(fd, 0, SEEK_END);
  bool ok = size >= 0 && static_cast<uint64_t>(size) == p.offset();
  if (ok) {
    ok = write(fd, p.data().data(), p.data().size()) == static_cast<ssize_t>(p.data().size());
  }
  close(fd);
  if (!ok) {
    return AnswerTo(cmd, MakeError(ErrorCode::kConflict,
                                   "the piece at " + std::to_string(p.offset()) +
                                       " does not follow what is here; send from 0 again"));
  }
  if (p.offset() + p.data().size() == p.total() &&
      rename(part.c_str(), (dir + "/bundle").c_str()) != 0) {
    return AnswerTo(cmd, IoError("cannot rename", part));
  }
  return AnswerTo(cmd, Result<void>{});
}

v1::CommandReply RepoKeeper::Fetch(const v1::Command& cmd) const {
  const v1::FetchResult& f = cmd.fetch_result();
  if (!ValidTaskId(f.task_id()) || (f.what() != "diff" && f.what() != "bundle")) {
    return AnswerTo(cmd, MakeError(ErrorCode::kBadRequest,
                                   "fetch_result needs a task id and "
                                   "\"diff\" or \"bundle\""));
  }
  const std::string path = paths_.Result(f.task_id()) + "/" + f.what();
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) {
    return AnswerTo(cmd, MakeError(ErrorCode::kNotFound, "no " + f.what() + " of task " +
                                                             f.task_id() + " on this machine"));
  }
  v1::CommandReply reply;
  const off_t total = lseek(fd, 0, SEEK_END);
  const uint32_t want =
      std::min(f.max_bytes() == 0 ? kMaxFetchBytes : f.max_bytes(), kMaxFetchBytes);
  std::string data;
  if (total >= 0 && f.offset() < static_cast<uint64_t>(total)) {
    data.resize(std::min<uint64_t>(want, static_cast<uint64_t>(total) - f.offset()));
    const ssize_t n = pread(fd, data.data(), data.size(), static_cast<off_t>(f.offset()));
    data.resize(n > 0 ? static_cast<size_t>(n) : 0);
  }
  close(fd);
  reply.set_data(std::move(data));
  reply.set_total(total > 0 ? static_cast<uint64_t>(total) : 0);
  return AnswerTo(cmd, std::move(reply));
}

}  // namespace autovibe
