#include "worker-agent/checkpoint_keeper.h"

#include <spdlog/spdlog.h>

#include <boost/asio/post.hpp>
#include <filesystem>
#include <optional>

#include "worker-agent/runner/task_env.h"

namespace autovibe {
namespace {

namespace asio = boost::asio;
using SteadyClock = std::chrono::steady_clock;

constexpr uint32_t kMaxPage = 20'000;              // hashes per ListObjects page
constexpr uint32_t kDefaultPartBytes = 512 << 10;  // per FetchObjects reply
constexpr uint32_t kMaxPartBytes = 768 << 10;      // well inside NATS's 1 MB default
constexpr int kMaxHashesPerCommand = 50'000;
constexpr size_t kMaxChanges = 10'000;  // per DiffCheckpoints reply

int64_t NowUnixMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

v1::CommandReply Answer(const v1::Command& cmd, const Result<void>& r) {
  v1::CommandReply reply;
  reply.set_command_id(cmd.command_id());
  reply.set_ok(r.has_value());
  if (!r) {
    reply.set_error(r.error().message);
    reply.set_error_code(r.error().code);
  }
  return reply;
}

Result<std::vector<snapshot::Hash>> Hashes(
    const google::protobuf::RepeatedPtrField<std::string>& in) {
  if (in.size() > kMaxHashesPerCommand) {
    return MakeError("bad_request", "more than " + std::to_string(kMaxHashesPerCommand) +
                                        " hashes in one command");
  }
  std::vector<snapshot::Hash> out;
  out.reserve(in.size());
  for (const auto& raw : in) {
    auto h = snapshot::HashFromBytes(raw);
    if (!h) return MakeError("bad_request", "a hash is not 32 bytes");
    out.push_back(*h);
  }
  return out;
}

v1::CheckpointChange::Kind ChangeKind(snapshot::Change::Kind k) {
  switch (k) {
    case snapshot::Change::kAdded:
      return v1::CheckpointChange::ADDED;
    case snapshot::Change::kRemoved:
      return v1::CheckpointChange::REMOVED;
    case snapshot::Change::kChanged:
      break;
  }
  return v1::CheckpointChange::CHANGED;
}

}  // namespace

Result<std::unique_ptr<CheckpointKeeper>> CheckpointKeeper::Open(asio::io_context& ioc,
                                                                 EventOutbox& outbox,
                                                                 TaskManager& tasks,
                                                                 CheckpointKeeperOptions options) {
  auto store = snapshot::CheckpointStore::Open(options.data_dir + "/checkpoints", options.store);
  if (!store) return store.error();
  std::unique_ptr<CheckpointKeeper> k(new CheckpointKeeper(ioc, outbox, tasks, std::move(options)));
  k->disk_->store = std::move(*store);
  return k;
}

CheckpointKeeper::CheckpointKeeper(asio::io_context& ioc, EventOutbox& outbox, TaskManager& tasks,
                                   CheckpointKeeperOptions options)
    : ioc_(ioc), outbox_(outbox), tasks_(tasks), options_(std::move(options)) {}

CheckpointKeeper::~CheckpointKeeper() {
  *alive_ = false;
  pool_.stop();
  pool_.join();
}

template <class Work, class Done>
void CheckpointKeeper::OnDisk(Work work, Done done) {
  asio::post(pool_, [&ioc = ioc_, alive = alive_, disk = disk_, work = std::move(work),
                     done = std::move(done)]() mutable {
    auto result = work(*disk);
    asio::post(ioc, [alive, done = std::move(done), result = std::move(result)]() mutable {
      if (*alive) done(std::move(result));
    });
  });
}

std::string CheckpointKeeper::Workspace(const std::string& task_id) const {
  return options_.data_dir + "/workspaces/" + task_id;
}

void CheckpointKeeper::Emit(const v1::CheckpointManifest& m, uint32_t attempt) {
  spdlog::info("checkpoint {} of task {} trigger={} files={} bytes={} stored={}", m.id(),
               m.task_id(), m.trigger(), m.file_count(), m.total_bytes(), m.stored_bytes());
  v1::AgentEvent e;
  auto* c = e.mutable_checkpoint_created();
  *c->mutable_manifest() = m;
  c->set_attempt(attempt);
  if (!outbox_.Add(std::move(e))) spdlog::error("checkpoint event lost: no machine id yet");
}

bool CheckpointKeeper::Handles(const v1::Command& cmd) {
  switch (cmd.kind_case()) {
    case v1::Command::kCheckpointNow:
    case v1::Command::kRestoreCheckpoint:
    case v1::Command::kDiffCheckpoints:
    case v1::Command::kDeleteCheckpoint:
    case v1::Command::kListObjects:
    case v1::Command::kMissingObjects:
    case v1::Command::kFetchObjects:
    case v1::Command::kPutObjects:
    case v1::Command::kImportCheckpoint:
    case v1::Command::kVerifyCheckpoint:
    case v1::Command::kPinCheckpoints:
      return true;
    default:
      return false;
  }
}

void CheckpointKeeper::Execute(const v1::Command& cmd, Reply reply) {
  switch (cmd.kind_case()) {
    case v1::Command::kCheckpointNow: {
      const auto& now = cmd.checkpoint_now();
      std::vector<std::string> ids;
      if (now.task_id().empty()) {
        ids = tasks_.RunningTaskIds();
        if (ids.empty()) {
          reply(Answer(cmd, MakeError("not_found", "no task runs on this machine: name one")));
          return;
        }
      } else if (!ValidTaskId(now.task_id())) {
        reply(Answer(cmd, MakeError("bad_request", "not a task id")));
        return;
      } else {
        ids.push_back(now.task_id());
      }
      std::vector<snapshot::CreateRequest> requests;
      std::vector<uint32_t> attempts;
      for (const auto& id : ids) {
        requests.push_back({.workspace = Workspace(id),
                            .trigger = "manual",
                            .task_id = id,
                            .machine_id = machine_id_,
                            .label = now.label().substr(0, 200)});
        attempts.push_back(tasks_.AttemptOf(id));
      }
      OnDisk(
          [requests](Disk& d) {
            std::vector<Result<snapshot::CreateResult>> out;
            for (const auto& r : requests) out.push_back(d.store->Create(r));
            return out;
          },
          [this, cmd, reply, attempts](std::vector<Result<snapshot::CreateResult>> results) {
            // Every checkpoint taken is reported; the answer fails only when none was.
            v1::CommandReply answer = Answer(cmd, {});
            std::optional<Error> failed;
            for (size_t i = 0; i < results.size(); ++i) {
              if (!results[i]) {
                spdlog::warn("checkpoint on command failed: {}", results[i].error().message);
                failed = results[i].error();
                continue;
              }
              Emit(results[i]->manifest, attempts[i]);
              *answer.add_checkpoints() = results[i]->manifest;
            }
            if (failed && answer.checkpoints_size() == 0) answer = Answer(cmd, *failed);
            reply(std::move(answer));
          });
      return;
    }
    case v1::Command::kRestoreCheckpoint:
      Restore(cmd, std::move(reply));
      return;
    case v1::Command::kDiffCheckpoints:
      OnDisk([from = cmd.diff_checkpoints().from(),
              to = cmd.diff_checkpoints().to()](Disk& d) { return d.store->Diff(from, to); },
             [cmd, reply](Result<std::vector<snapshot::Change>> changes) {
               if (!changes) return reply(Answer(cmd, changes.error()));
               v1::CommandReply answer = Answer(cmd, {});
               answer.set_changes_total(changes->size());
               // A reply must fit a bus message: the first kMaxChanges, and how many in all.
               if (changes->size() > kMaxChanges) changes->resize(kMaxChanges);
               for (const auto& c : *changes) {
                 auto* out = answer.add_changes();
                 out->set_kind(ChangeKind(c.kind));
                 out->set_path(c.path);
               }
               reply(std::move(answer));
             });
      return;
    case v1::Command::kDeleteCheckpoint:
      OnDisk([id = cmd.delete_checkpoint().checkpoint_id(),
              pinned = pinned_](Disk& d) { return d.store->Delete(id, pinned); },
             [this, cmd, reply](Result<snapshot::PruneReport> r) {
               if (!r) return reply(Answer(cmd, r.error()));
               v1::CommandReply answer = Answer(cmd, {});
               v1::AgentEvent e;
               for (const auto& id : r->removed) {
                 answer.add_removed(id);
                 e.mutable_checkpoints_removed()->add_checkpoint_ids(id);
               }
               if (!r->removed.empty()) outbox_.Add(std::move(e));
               reply(std::move(answer));
             });
      return;
    case v1::Command::kListObjects:
      OnDisk(
          [req = cmd.list_objects()](Disk& d) -> Result<v1::ObjectPage> {
            auto m = d.store->Get(req.checkpoint_id());
            if (!m) return m.error();
            if (d.listed_id != m->id()) {
              auto objects = snapshot::ObjectsOf(d.store->chunks(), m->root());
              if (!objects) return objects.error();
              d.listed = std::move(*objects);
              d.listed_id = m->id();
            }
            v1::ObjectPage page;
            *page.mutable_manifest() = *m;
            page.set_total(d.listed.size());
            const uint32_t limit = req.limit() == 0 ? kMaxPage : std::min(req.limit(), kMaxPage);
            for (uint64_t i = req.offset(); i < d.listed.size() && i < req.offset() + limit; ++i) {
              page.add_hashes(std::string(d.listed[i].view()));
            }
            return page;
          },
          [cmd, reply](Result<v1::ObjectPage> page) {
            if (!page) return reply(Answer(cmd, page.error()));
            v1::CommandReply answer = Answer(cmd, {});
            *answer.mutable_objects() = std::move(*page);
            reply(std::move(answer));
          });
      return;
    case v1::Command::kMissingObjects:
      OnDisk(
          [hashes = cmd.missing_objects().hashes()](Disk& d) -> Result<std::vector<std::string>> {
            auto in = Hashes(hashes);
            if (!in) return in.error();
            std::vector<std::string> out;
            for (const auto& h : snapshot::MissingFrom(d.store->chunks(), *in)) {
              out.emplace_back(h.view());
            }
            return out;
          },
          [cmd, reply](Result<std::vector<std::string>> missing) {
            if (!missing) return reply(Answer(cmd, missing.error()));
            v1::CommandReply answer = Answer(cmd, {});
            for (auto& h : *missing) answer.add_missing(std::move(h));
            reply(std::move(answer));
          });
      return;
    case v1::Command::kFetchObjects:
      OnDisk(
          [req = cmd.fetch_objects()](Disk& d) -> Result<std::vector<snapshot::Part>> {
            auto in = Hashes(req.hashes());
            if (!in) return in.error();
            const uint32_t max =
                req.max_bytes() == 0 ? kDefaultPartBytes : std::min(req.max_bytes(), kMaxPartBytes);
            return d.sender.Fetch(d.store->chunks(), *in, req.offset(), max);
          },
          [cmd, reply](Result<std::vector<snapshot::Part>> parts) {
            if (!parts) return reply(Answer(cmd, parts.error()));
            v1::CommandReply answer = Answer(cmd, {});
            for (auto& p : *parts) {
              auto* out = answer.add_parts();
              out->set_hash(std::string(p.hash.view()));
              out->set_offset(p.offset);
              out->set_total(p.total);
              out->set_data(std::move(p.data));
            }
            reply(std::move(answer));
          });
      return;
    case v1::Command::kPutObjects:
      OnDisk(
          [req = cmd.put_objects()](Disk& d) -> Result<snapshot::PutReport> {
            std::vector<snapshot::Part> parts;
            for (const auto& p : req.parts()) {
              auto h = snapshot::HashFromBytes(p.hash());
              if (!h) return MakeError("bad_request", "a part's hash is not 32 bytes");
              parts.push_back({*h, p.offset(), p.total(), p.data()});
            }
            return d.receiver.Put(d.store->chunks(), std::move(parts));
          },
          [cmd, reply](Result<snapshot::PutReport> r) {
            reply(Answer(cmd, r ? Result<void>{} : Result<void>(r.error())));
          });
      return;
    case v1::Command::kImportCheckpoint:
      OnDisk([m = cmd.import_checkpoint().manifest()](Disk& d) { return d.store->Import(m); },
             [cmd, reply](Result<v1::CheckpointManifest> m) {
               if (!m) return reply(Answer(cmd, m.error()));
               v1::CommandReply answer = Answer(cmd, {});
               *answer.add_checkpoints() = std::move(*m);
               reply(std::move(answer));
             });
      return;
    case v1::Command::kPinCheckpoints: {
      const auto& ids = cmd.pin_checkpoints().checkpoint_ids();
      if (ids.size() > kMaxHashesPerCommand) {
        reply(Answer(cmd, MakeError("bad_request", "too many checkpoints to pin")));
        return;
      }
      pinned_ = {ids.begin(), ids.end()};
      reply(Answer(cmd, {}));
      return;
    }
    case v1::Command::kVerifyCheckpoint:
      OnDisk(
          [id = cmd.verify_checkpoint().checkpoint_id()](Disk& d) -> Result<void> {
            auto report = d.store->Verify(id);
            if (!report) return report.error();
            if (report->problems.empty()) return {};
            std::string what = std::to_string(report->problems.size()) + " problems: ";
            for (size_t i = 0; i < report->problems.size() && i < 5; ++i) {
              what += (i > 0 ? "; " : "") + report->problems[i];
            }
            return MakeError("corrupt", what);
          },
          [cmd, reply](Result<void> r) { reply(Answer(cmd, r)); });
      return;
    default:
      reply(Answer(cmd, MakeError("unsupported", "not a checkpoint command")));
  }
}

// Finds the checkpoint's task, pauses its tool if it runs, then restores in place.
void CheckpointKeeper::Restore(const v1::Command& cmd, Reply reply) {
  const auto& req = cmd.restore_checkpoint();
  OnDisk([id = req.checkpoint_id()](Disk& d) { return d.store->Get(id); },
         [this, cmd, reply](Result<v1::CheckpointManifest> m) {
           if (!m) return reply(Answer(cmd, m.error()));
           std::string task = cmd.restore_checkpoint().task_id();
           if (task.empty()) task = m->task_id();
           if (!ValidTaskId(task)) {
             return reply(
                 Answer(cmd, MakeError("bad_request", "checkpoint " + m->id() +
                                                          " belongs to no task: name the task to "
                                                          "restore it into")));
           }
           if (busy_.contains(task)) {
             return reply(
                 Answer(cmd, MakeError("busy", "task " + task + "'s workspace is being restored")));
           }
           // No tool of the task may start until the workspace is back (Busy()).
           busy_.insert(task);
           if (tasks_.Running(task)) {
             tasks_.Pause(task, "restoring checkpoint " + m->id());
           }
           tasks_.WhenEnded(task, [this, cmd, reply, task, id = m->id()] {
             snapshot::RestoreRequest r{
                 .id = id, .target = Workspace(task), .task_id = task, .machine_id = machine_id_};
             OnDisk(
                 [r](Disk& d) mutable {
                   std::error_code ec;
                   r.replace = std::filesystem::exists(r.target, ec);
                   return d.store->Restore(r);
                 },
                 [this, cmd, reply, task](Result<snapshot::RestoreResult> done) {
                   busy_.erase(task);
                   if (!done) return reply(Answer(cmd, done.error()));
                   v1::CommandReply answer = Answer(cmd, {});
                   if (done->before) {
                     Emit(*done->before, 0);
                     *answer.add_checkpoints() = *done->before;
                   }
                   spdlog::info("restored checkpoint {} into the workspace of task {} files={}",
                                cmd.restore_checkpoint().checkpoint_id(), task,
                                done->restored.files);
                   reply(std::move(answer));
                 });
           });
         });
}

void CheckpointKeeper::Seed(const v1::RunTask& task, std::function<void(Result<void>)> done) {
  if (task.from_checkpoint().empty()) return done({});
  if (!ValidTaskId(task.task_id())) return done(MakeError("bad_task", "not a task id"));
  if (busy_.contains(task.task_id()) || tasks_.Running(task.task_id())) {
    return done(MakeError("busy", "task " + task.task_id() + "'s workspace is in use"));
  }
  busy_.insert(task.task_id());
  snapshot::RestoreRequest r{.id = task.from_checkpoint(),
                             .target = Workspace(task.task_id()),
                             .task_id = task.task_id(),
                             .machine_id = machine_id_};
  OnDisk(
      [r](Disk& d) mutable {
        std::error_code ec;
        std::filesystem::create_directories(std::filesystem::path(r.target).parent_path(), ec);
        r.replace = std::filesystem::exists(r.target, ec);
        return d.store->Restore(r);
      },
      [this, done = std::move(done), attempt = task.attempt(),
       id = task.task_id()](Result<snapshot::RestoreResult> restored) {
        busy_.erase(id);
        if (!restored) return done(restored.error());
        if (restored->before) Emit(*restored->before, attempt);
        done({});
      });
}

void CheckpointKeeper::LlmResponded(const std::vector<std::string>& task_ids) {
  if (options_.settings.auto_every.count() <= 0) return;
  for (const auto& id : task_ids) {
    if (!tasks_.Running(id)) continue;
    AutoState& st = auto_[id];
    if (st.timer) continue;  // one is due already
    auto at = std::max(SteadyClock::now(), st.last + options_.settings.auto_every);
    st.timer = std::make_unique<asio::steady_timer>(ioc_, at);
    st.timer->async_wait([this, id](boost::system::error_code ec) {
      if (ec) return;
      TakeAuto(id);
    });
  }
}

void CheckpointKeeper::TakeAuto(const std::string& task_id) {
  auto it = auto_.find(task_id);
  if (it == auto_.end()) return;
  it->second.timer.reset();
  if (!tasks_.Running(task_id)) return;
  it->second.last = SteadyClock::now();
  snapshot::CreateRequest r{.workspace = Workspace(task_id),
                            .trigger = "auto",
                            .task_id = task_id,
                            .machine_id = machine_id_,
                            .only_if_changed = true};
  OnDisk([r](Disk& d) { return d.store->Create(r); },
         [this, task_id, attempt = tasks_.AttemptOf(task_id)](
             Result<snapshot::CreateResult> created) { Took(created, task_id, attempt); });
}

void CheckpointKeeper::TaskEnded(const std::string& task_id, uint32_t attempt) {
  auto it = auto_.find(task_id);
  if (it != auto_.end()) auto_.erase(it);  // cancels a due automatic one: this one replaces it
  if (!options_.settings.at_task_end || !ValidTaskId(task_id)) return;
  snapshot::CreateRequest r{.workspace = Workspace(task_id),
                            .trigger = "task_end",
                            .task_id = task_id,
                            .machine_id = machine_id_,
                            .only_if_changed = true};
  OnDisk([r](Disk& d) { return d.store->Create(r); },
         [this, task_id, attempt](Result<snapshot::CreateResult> created) {
           Took(created, task_id, attempt);
         });
}

void CheckpointKeeper::Took(const Result<snapshot::CreateResult>& r, const std::string& task_id,
                            uint32_t attempt) {
  if (!r) {
    spdlog::warn("checkpoint of task {} failed: {}", task_id, r.error().message);
    return;
  }
  if (!r->skipped.empty()) {
    spdlog::warn("checkpoint {} left out {} entries (links out of the workspace), first: {}",
                 r->manifest.id(), r->skipped.size(), r->skipped.front());
  }
  if (!r->created) return;
  Emit(r->manifest, attempt);
  MaybePrune();
}

void CheckpointKeeper::MaybePrune() {
  const auto now = SteadyClock::now();
  if (last_prune_ != SteadyClock::time_point{} &&
      now - last_prune_ < options_.settings.prune_every) {
    return;
  }
  last_prune_ = now;
  OnDisk([retention =
              snapshot::Retention{.keep_auto = options_.settings.keep_auto,
                                  .keep_daily_days = static_cast<int>(options_.settings.keep_days)},
          pinned = pinned_](Disk& d) { return d.store->Prune(retention, pinned, NowUnixMs()); },
         [this](Result<snapshot::PruneReport> r) {
           if (!r) {
             spdlog::warn("checkpoint retention failed: {}", r.error().message);
             return;
           }
           if (r->removed.empty()) return;
           spdlog::info("checkpoint retention removed {} checkpoints, freed {} bytes",
                        r->removed.size(), r->freed_bytes);
           v1::AgentEvent e;
           for (const auto& id : r->removed)
             e.mutable_checkpoints_removed()->add_checkpoint_ids(id);
           outbox_.Add(std::move(e));
         });
}

}  // namespace autovibe
