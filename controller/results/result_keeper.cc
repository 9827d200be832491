#include "controller/results/result_keeper.h"

#include <spdlog/spdlog.h>
#include <stdio.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <limits>

#include "common/core/files.h"
#include "controller/publish/forge_repo.h"
#include "controller/publish/pull_request_text.h"
#include "controller/tasks/task_book.h"

namespace autovibe {
namespace {

constexpr uint32_t kMaxFetchTries = 6;
constexpr uint32_t kMaxPushTries = 8;

bool HasChange(const TaskRecord& t) {
  const TaskChange& c = t.report.change;
  return !t.spec.repo.url.empty() && !c.head.empty() && c.head != c.base && c.error.empty();
}

bool Ended(TaskState s) {
  return s == TaskState::kAwaitingReview || s == TaskState::kSucceeded || s == TaskState::kFailed;
}

// Backoff of the n-th retry: 2 s, 4 s, ... at most 5 minutes.
std::chrono::seconds Backoff(uint32_t tries) {
  return std::chrono::seconds(std::min<uint32_t>(300, 1u << std::min<uint32_t>(tries, 9)));
}

}  // namespace

struct ResultKeeper::Fetching {
  std::string task_id, machine_id, dir;
  std::vector<std::string> files;            // still to fetch, the current first
  std::map<std::string, uint64_t> declared;  // each file's size, as the agent reported it
  uint64_t offset = 0;
  std::ofstream out;
};

ResultKeeper::ResultKeeper(ResultKeeperDeps deps) : d_(std::move(deps)) {}

ResultKeeper::~ResultKeeper() { *alive_ = false; }

std::string ResultKeeper::FilePath(const std::string& task_id, const std::string& what) const {
  const TaskRecord* t = d_.book->Find(task_id);
  if (t == nullptr || !t->report.change.stored || (what != "diff" && what != "bundle")) return "";
  return d_.data_dir + "/results/" + task_id + "/" + what;
}

void ResultKeeper::TaskChanged(const TaskRecord& t) {
  if (!HasChange(t)) return;
  const TaskChange& c = t.report.change;
  if (t.state == TaskState::kRejected && c.stored) {
    // Turned down: nothing of it is kept.
    std::error_code ec;
    std::filesystem::remove_all(d_.data_dir + "/results/" + t.id, ec);
    d_.book->UpdateChange(t.id, [](TaskChange& c) { c.stored = false; });
    return;
  }
  if (!c.stored && Ended(t.state) && !fetching_.contains(t.id) && !retry_.contains(t.id) &&
      !t.machine_id.empty()) {
    if (c.diff_bytes + c.bundle_bytes > d_.max_result_bytes) {
      const std::string why = "the change's diff and bundle (" +
                              std::to_string(c.diff_bytes + c.bundle_bytes) +
                              " bytes) are over the controller's max_result_bytes (" +
                              std::to_string(d_.max_result_bytes) + ")";
      d_.book->UpdateChange(t.id, [&](TaskChange& c) { c.error = why; });
      return;
    }
    fetching_.insert(t.id);
    auto f = std::make_shared<Fetching>();
    f->task_id = t.id;
    f->machine_id = t.machine_id;
    f->dir = d_.data_dir + "/results/" + t.id;
    f->files = {"diff", "bundle"};
    f->declared = {{"diff", c.diff_bytes}, {"bundle", c.bundle_bytes}};
    if (auto made = MakeDirs(f->dir, 0700); !made) {
      fetching_.erase(t.id);
      spdlog::error("cannot keep the result of task {}: {}", t.id, made.error().message);
      return;
    }
    FetchNext(f);
  }
  const bool publish = t.spec.repo.publish == "push" || t.spec.repo.publish == "pr";
  if (t.spec.repo.publish == "pr" && t.state == TaskState::kSucceeded && c.published == "pushed" &&
      !opening_.contains(t.id)) {
    OpenPullRequest(t);
  }
  if (publish && t.state == TaskState::kSucceeded &&
      (c.published.empty() || c.published.starts_with("retrying")) && !pushing_.contains(t.id) &&
      !retry_.contains(t.id)) {
    StartPush(t);
  }
}

void ResultKeeper::FetchNext(std::shared_ptr<Fetching> f) {
  if (f->files.empty()) return Fetched(f->task_id, {});
  const std::string what = f->files.front();
  if (!f->out.is_open()) {
    f->out.open(f->dir + "/" + what + ".part", std::ios::binary | std::ios::trunc);
    f->offset = 0;
  }
  d_.agents->Fetch(
      f->machine_id, f->task_id, what, f->offset,
      [this, alive = alive_, f, what](Result<ResultPiece> piece) {
        if (!*alive) return;
        if (!piece) return Fetched(f->task_id, piece.error());
        // No more than the agent said when the task ended: a machine cannot fill
        // the controller's disk by answering on and on.
        if (piece->total != f->declared[what] ||
            f->offset + piece->data.size() > f->declared[what]) {
          return Fetched(f->task_id,
                         MakeError(ErrorCode::kBadData,
                                   "the machine sends a " + what + " of " +
                                       std::to_string(piece->total) + " bytes, not the " +
                                       std::to_string(f->declared[what]) + " it reported"));
        }
        f->out.write(piece->data.data(), static_cast<std::streamsize>(piece->data.size()));
        f->offset += piece->data.size();
        if (!f->out) return Fetched(f->task_id, IoError("cannot write", f->dir));
        if (f->offset < piece->total && !piece->data.empty()) return FetchNext(f);
        f->out.close();
        const std::string part = f->dir + "/" + what + ".part";
        if (rename(part.c_str(), (f->dir + "/" + what).c_str()) != 0) {
          return Fetched(f->task_id, IoError("cannot rename", part));
        }
        f->files.erase(f->files.begin());
        FetchNext(f);
      });
}

void ResultKeeper::Fetched(const std::string& task_id, const Result<void>& r) {
  fetching_.erase(task_id);
  if (r) {
    fetch_tries_.erase(task_id);
    spdlog::info("result of task {} kept by the controller", task_id);
    d_.book->UpdateChange(task_id, [](TaskChange& c) { c.stored = true; });
    return;
  }
  const uint32_t tries = ++fetch_tries_[task_id];
  spdlog::warn("cannot fetch the result of task {} (try {} of {}): {}", task_id, tries,
               kMaxFetchTries, r.error().message);
  if (tries < kMaxFetchTries) RetryLater(task_id, tries);
}

void ResultKeeper::StartPush(const TaskRecord& t) {
  PushOrder order{.task_id = t.id, .url = t.spec.repo.url, .branch = t.report.change.branch};
  if (!t.spec.repo.secret.empty() && d_.secret) {
    if (auto value = d_.secret(t.spec.repo.secret)) order.credential = *value;
  }
  pushing_.insert(t.id);
  PushFrom(t.machine_id, std::move(order), false, false);
}

void ResultKeeper::PushFrom(const std::string& machine, PushOrder order, bool upload,
                            bool last_try) {
  auto push = [this, alive = alive_, machine, order, last_try](Result<void> ready) {
    if (!*alive) return;
    if (!ready) return Pushed(order.task_id, ready.error());
    d_.agents->Push(machine, order, [this, alive, machine, order, last_try](Result<void> r) {
      if (!*alive) return;
      // The machine that made the result is gone (or lost it): another pushes from the
      // bundle the controller kept.
      const bool elsewhere =
          !r && !last_try && d_.ready_machines &&
          (r.error().code == ErrorCode::kNotFound || r.error().code == ErrorCode::kNoResponders ||
           r.error().code == ErrorCode::kTimeout || r.error().code == ErrorCode::kUnavailable);
      const TaskRecord* t = elsewhere ? d_.book->Find(order.task_id) : nullptr;
      if (t != nullptr && t->report.change.stored) {
        for (const std::string& other : d_.ready_machines()) {
          if (other == machine) continue;
          spdlog::info(
              "task {}: its machine {} cannot push ({}); pushing from {} with the kept "
              "bundle",
              order.task_id, machine, r.error().message, other);
          return PushFrom(other, order, true, true);
        }
      }
      Pushed(order.task_id, r);
    });
  };
  if (!upload) return push({});
  Upload(machine, order.task_id, 0, std::move(push));
}

void ResultKeeper::Upload(const std::string& machine, const std::string& task_id, uint64_t offset,
                          std::function<void(Result<void>)> then) {
  const std::string path = d_.data_dir + "/results/" + task_id + "/bundle";
  std::ifstream in(path, std::ios::binary);
  in.seekg(0, std::ios::end);
  const auto total = static_cast<uint64_t>(std::max<std::streamoff>(0, in.tellg()));
  if (!in || total == 0) return then(IoError("cannot read", path));
  std::string piece(std::min<uint64_t>(1 << 20, total - offset), '\0');
  in.seekg(static_cast<std::streamoff>(offset));
  in.read(piece.data(), static_cast<std::streamsize>(piece.size()));
  if (!in) return then(IoError("cannot read", path));
  const uint64_t next = offset + piece.size();
  d_.agents->Put(machine, task_id, offset, std::move(piece), total,
                 [this, alive = alive_, machine, task_id, next, total,
                  then = std::move(then)](Result<void> r) {
                   if (!*alive) return;
                   if (!r || next >= total) return then(r);
                   Upload(machine, task_id, next, then);
                 });
}

void ResultKeeper::Pushed(const std::string& task_id, const Result<void>& r) {
  pushing_.erase(task_id);
  if (r) {
    push_tries_.erase(task_id);
    spdlog::info("task {} branch pushed", task_id);
    d_.book->UpdateChange(task_id, [](TaskChange& c) { c.published = "pushed"; });
    return;
  }
  const uint32_t tries = ++push_tries_[task_id];
  const bool again = tries < kMaxPushTries && r.error().code != ErrorCode::kNotFound;
  spdlog::warn("cannot push the branch of task {} (try {} of {}): {}", task_id, tries,
               kMaxPushTries, r.error().message);
  if (again) RetryLater(task_id, tries);  // first: the update below comes back to TaskChanged
  d_.book->UpdateChange(task_id, [&](TaskChange& c) {
    c.published = (again ? "retrying: " : "failed: ") + r.error().message;
  });
}

void ResultKeeper::OpenPullRequest(const TaskRecord& t) {
  const TaskRepo& repo = t.spec.repo;
  const TaskChange& c = t.report.change;
  auto fail = [&](const std::string& why) {
    spdlog::warn("task {}: no pull request: {}", t.id, why);
    d_.book->UpdateChange(t.id,
                          [&](TaskChange& c) { c.published = "failed: pull request: " + why; });
  };
  if (d_.pull_requests == nullptr) return fail("this controller opens no pull requests");
  auto where = ResolveForgeRepo(repo.url, repo.forge_api);
  if (!where) return fail(where.error().message);
  const std::string& secret = repo.forge_secret.empty() ? repo.secret : repo.forge_secret;
  std::optional<std::string> token =
      secret.empty() || !d_.secret ? std::nullopt : d_.secret(secret);
  if (!token) return fail("no forge token (repo.forge_secret, or repo.secret)");
  if (c.base_branch.empty())
    return fail("the task started from a commit, not a branch to merge into");
  PullRequestReport report{.task_id = t.id,
                           .project = t.project,
                           .tool = t.spec.tool,
                           .title = t.spec.title,
                           .prompt = t.spec.prompt,
                           .summary = t.last_log,
                           .base_commit = c.base,
                           .head_commit = c.head};
  if (report.prompt.empty()) {
    for (const auto& a : t.spec.command) report.prompt += (report.prompt.empty() ? "" : " ") + a;
  }
  if (t.report.turns > 0) report.turns = t.report.turns;
  if (t.report.reported_cost_micros > 0) report.cost_micros = t.report.reported_cost_micros;
  report.files_changed = c.files_changed;
  report.insertions = static_cast<int64_t>(c.insertions);
  report.deletions = static_cast<int64_t>(c.deletions);
  opening_.insert(t.id);
  d_.pull_requests->Open(
      PullRequestSpec{.api_base = where->api_base,
                      .owner = where->owner,
                      .repo = where->repo,
                      .token = *token,
                      .head = c.branch,
                      .base = c.base_branch,
                      .title = PullRequestTitle(report),
                      .body = PullRequestBody(report)},
      [this, alive = alive_, id = t.id](PullRequestOutcome o) {
        if (!*alive) return;
        opening_.erase(id);
        if (!o.result) {
          spdlog::warn("task {}: pull request not opened after {} tries: {}", id, o.attempts,
                       o.result.error().message);
          d_.book->UpdateChange(id, [&](TaskChange& c) {
            c.published = "failed: pull request: " + o.result.error().message;
          });
          return;
        }
        spdlog::info("task {}: pull request #{} {}", id, o.result->number, o.result->url);
        d_.book->UpdateChange(id, [&](TaskChange& c) {
          c.published = "pr";
          c.pr_url = o.result->url;
        });
      },
      [this, alive = alive_, id = t.id](int failed, const Error& e, std::chrono::milliseconds) {
        if (!*alive) return;
        spdlog::info("task {}: pull request try {} failed, retrying: {}", id, failed, e.message);
      });
}

size_t ResultKeeper::Expire() {
  if (d_.retention.count() <= 0 || !d_.now_ms) return 0;
  const int64_t cutoff = d_.now_ms() - d_.retention.count();
  std::vector<std::string> old;
  for (const TaskRecord* t : d_.book->List("", std::nullopt, std::numeric_limits<size_t>::max())) {
    if (t->report.change.stored && IsFinal(t->state) && t->finished_at_ms > 0 &&
        t->finished_at_ms < cutoff) {
      old.push_back(t->id);
    }
  }
  for (const std::string& id : old) {
    std::error_code ec;
    std::filesystem::remove_all(d_.data_dir + "/results/" + id, ec);
    auto r = d_.book->UpdateChange(id, [](TaskChange& c) {
      c.stored = false;
      c.error = "expired: the controller keeps results for its result_retention";
    });
    const TaskRecord* t = d_.book->Find(id);
    AuditRecord record = Decision("result_retention", "task.result_expired", "task", id,
                                  t != nullptr ? t->project : "");
    if (!r) {
      record.result = "error";
      record.error = r.error().message;
    }
    Audit(d_.audit, std::move(record));
  }
  if (!old.empty()) spdlog::info("results of {} tasks expired", old.size());
  return old.size();
}

void ResultKeeper::Start() {
  Expire();
  // Checked a few times within the retention, at most hourly.
  const auto every = std::clamp<std::chrono::milliseconds>(
      d_.retention / 4, std::chrono::seconds(1), std::chrono::hours(1));
  expiry_ = std::make_unique<boost::asio::steady_timer>(*d_.ioc, every);
  expiry_->async_wait([this, alive = alive_](boost::system::error_code ec) {
    if (!ec && *alive) Start();
  });
}

void ResultKeeper::RetryLater(const std::string& task_id, uint32_t tries) {
  auto timer = std::make_unique<boost::asio::steady_timer>(*d_.ioc, Backoff(tries));
  timer->async_wait([this, alive = alive_, task_id](boost::system::error_code ec) {
    if (ec || !*alive) return;
    retry_.erase(task_id);
    if (const TaskRecord* t = d_.book->Find(task_id)) TaskChanged(*t);
  });
  retry_[task_id] = std::move(timer);
}

}  // namespace autovibe
