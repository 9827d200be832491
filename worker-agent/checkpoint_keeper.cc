#include "worker-agent/checkpoint_keeper.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <boost/asio/post.hpp>
#include <filesystem>
#include <optional>

#include "common/core/files.h"
#include "common/core/time.h"
#include "worker-agent/command_reply.h"
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
// Checkpoint ids a ListCheckpoints reply holds at most (well inside a bus message).
constexpr size_t kMaxListed = 20'000;
// How long retention waits for the controller to say which checkpoints tasks depend on.
constexpr auto kPinsAwaited = std::chrono::minutes(5);

Result<std::vector<snapshot::Hash>> Hashes(
    const google::protobuf::RepeatedPtrField<std::string>& in) {
  if (in.size() > kMaxHashesPerCommand) {
    return MakeError(ErrorCode::kBadRequest, "more than " + std::to_string(kMaxHashesPerCommand) +
                                                 " hashes in one command");
  }
  std::vector<snapshot::Hash> out;
  out.reserve(in.size());
  for (const auto& raw : in) {
    auto h = snapshot::HashFromBytes(raw);
    if (!h) return MakeError(ErrorCode::kBadRequest, "a hash is not 32 bytes");
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

// The next piece of a checkpoint's archive (ExportArchive in command.proto).
Result<v1::CommandReply> ExportArchivePiece(snapshot::ArchiveExports& exports,
                                            snapshot::CheckpointStore& store,
                                            const v1::ExportArchive& req) {
  const uint32_t max =
      req.max_bytes() == 0 ? kDefaultPartBytes : std::min(req.max_bytes(), kMaxPartBytes);
  auto piece = exports.Piece(store, {.checkpoint_id = req.checkpoint_id(),
                                     .export_id = req.export_id(),
                                     .offset = req.offset(),
                                     .max_bytes = max});
  if (!piece) return piece.error();
  v1::CommandReply answer;
  answer.set_data(std::move(piece->data));
  answer.set_total(piece->total);
  return answer;
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
    case v1::Command::kSyncDisks:
    case v1::Command::kListCheckpoints:
    case v1::Command::kExportArchive:
      return true;
    default:
      return false;
  }
}

// The commands that only read or write the store, run on the disk thread.
Result<v1::CommandReply> CheckpointKeeper::DiskCommand(Disk& d, const v1::Command& cmd) {
  v1::CommandReply answer;
  switch (cmd.kind_case()) {
    case v1::Command::kSyncDisks:
      sync();
      return answer;
    case v1::Command::kDiffCheckpoints: {
      auto changes = d.store->Diff(cmd.diff_checkpoints().from(), cmd.diff_checkpoints().to());
      if (!changes) return changes.error();
      answer.set_changes_total(changes->size());
      // A reply must fit a bus message: the first kMaxChanges, and how many in all.
      if (changes->size() > kMaxChanges) changes->resize(kMaxChanges);
      for (const auto& c : *changes) {
        auto* out = answer.add_changes();
        out->set_kind(ChangeKind(c.kind));
        out->set_path(c.path);
      }
      return answer;
    }
    case v1::Command::kListObjects: {
      const auto& req = cmd.list_objects();
      auto m = d.store->Get(req.checkpoint_id());
      if (!m) return m.error();
      if (d.listed_id != m->id()) {
        auto objects = snapshot::ObjectsOf(d.store->chunks(), m->root());
        if (!objects) return objects.error();
        d.listed = std::move(*objects);
        d.listed_id = m->id();
      }
      v1::ObjectPage& page = *answer.mutable_objects();
      *page.mutable_manifest() = *m;
      page.set_total(d.listed.size());
      const uint32_t limit = req.limit() == 0 ? kMaxPage : std::min(req.limit(), kMaxPage);
      for (uint64_t i = req.offset(); i < d.listed.size() && i < req.offset() + limit; ++i) {
        page.add_hashes(std::string(d.listed[i].view()));
      }
      return answer;
    }
    case v1::Command::kMissingObjects: {
      auto in = Hashes(cmd.missing_objects().hashes());
      if (!in) return in.error();
      // An import of these follows: retention must not collect those here meanwhile.
      d.store->Hold(*in);
      for (const auto& h : snapshot::MissingFrom(d.store->chunks(), *in)) {
        answer.add_missing(std::string(h.view()));
      }
      return answer;
    }
    case v1::Command::kFetchObjects: {
      const auto& req = cmd.fetch_objects();
      auto in = Hashes(req.hashes());
      if (!in) return in.error();
      const uint32_t max =
          req.max_bytes() == 0 ? kDefaultPartBytes : std::min(req.max_bytes(), kMaxPartBytes);
      auto parts = d.sender.Fetch(d.store->chunks(), *in, req.offset(), max);
      if (!parts) return parts.error();
      for (auto& p : *parts) {
        auto* out = answer.add_parts();
        out->set_hash(std::string(p.hash.view()));
        out->set_offset(p.offset);
        out->set_total(p.total);
        out->set_data(std::move(p.data));
      }
      return answer;
    }
    case v1::Command::kPutObjects: {
      std::vector<snapshot::Part> parts;
      for (const auto& p : cmd.put_objects().parts()) {
        auto h = snapshot::HashFromBytes(p.hash());
        if (!h) return MakeError(ErrorCode::kBadRequest, "a part's hash is not 32 bytes");
        parts.push_back({*h, p.offset(), p.total(), p.data()});
      }
      if (auto r = d.receiver.Put(d.store->chunks(), std::move(parts)); !r) return r.error();
      return answer;
    }
    case v1::Command::kListCheckpoints: {
      // Read here, behind every checkpoint taken or imported before the question came.
      const auto all = d.store->List();
      if (all.size() > kMaxListed) {
        return MakeError(ErrorCode::kTooLarge,
                         std::to_string(all.size()) + " checkpoints: too many to list");
      }
      for (const auto& m : all) answer.add_checkpoint_ids(m.id());
      return answer;
    }
    case v1::Command::kExportArchive:
      return ExportArchivePiece(d.exports, *d.store, cmd.export_archive());
    case v1::Command::kImportCheckpoint: {
      auto m = d.store->Import(cmd.import_checkpoint().manifest());
      if (!m) return m.error();
      *answer.add_checkpoints() = std::move(*m);
      return answer;
    }
    case v1::Command::kVerifyCheckpoint: {
      auto report = d.store->Verify(cmd.verify_checkpoint().checkpoint_id());
      if (!report) return report.error();
      if (report->problems.empty()) return answer;
      std::string what = std::to_string(report->problems.size()) + " problems: ";
      for (size_t i = 0; i < report->problems.size() && i < 5; ++i) {
        what += (i > 0 ? "; " : "") + report->problems[i];
      }
      return MakeError(ErrorCode::kCorrupt, what);
    }
    default:
      return MakeError(ErrorCode::kUnsupported, "not a checkpoint command");
  }
}

void CheckpointKeeper::Execute(const v1::Command& cmd, Reply reply) {
  switch (cmd.kind_case()) {
    case v1::Command::kCheckpointNow:
      CheckpointNow(cmd, std::move(reply));
      return;
    case v1::Command::kRestoreCheckpoint:
      Restore(cmd, std::move(reply));
      return;
    case v1::Command::kDeleteCheckpoint:
      OnDisk([id = cmd.delete_checkpoint().checkpoint_id(),
              pinned = pinned_](Disk& d) { return d.store->Delete(id, pinned); },
             [this, cmd, reply](Result<snapshot::PruneReport> r) {
               if (!r) return reply(AnswerTo(cmd, r.error()));
               v1::CommandReply answer;
               v1::AgentEvent e;
               for (const auto& id : r->removed) {
                 answer.add_removed(id);
                 e.mutable_checkpoints_removed()->add_checkpoint_ids(id);
               }
               if (!r->removed.empty()) outbox_.Add(std::move(e));
               reply(AnswerTo(cmd, std::move(answer)));
             });
      return;
    case v1::Command::kPinCheckpoints: {
      const auto& ids = cmd.pin_checkpoints().checkpoint_ids();
      if (ids.size() > kMaxHashesPerCommand) {
        reply(AnswerTo(cmd, MakeError(ErrorCode::kBadRequest, "too many checkpoints to pin")));
        return;
      }
      pinned_ = {ids.begin(), ids.end()};
      pins_heard_ = true;
      reply(AnswerTo(cmd, Result<void>{}));
      return;
    }
    default:
      OnDisk([cmd](Disk& d) { return DiskCommand(d, cmd); },
             [this, cmd, reply](Result<v1::CommandReply> r) {
               const bool imported = r && cmd.has_import_checkpoint();
               reply(AnswerTo(cmd, std::move(r)));
               // A machine that holds others' copies (replicas) prunes as they come in.
               if (imported) MaybePrune();
             });
  }
}

// Checkpoints the named task's workspace, or every running task's.
void CheckpointKeeper::CheckpointNow(const v1::Command& cmd, Reply reply) {
  const auto& now = cmd.checkpoint_now();
  std::vector<std::string> ids;
  if (now.task_id().empty()) {
    ids = tasks_.RunningTaskIds();
    if (ids.empty()) {
      reply(
          AnswerTo(cmd, MakeError(ErrorCode::kNotFound, "no task runs on this machine: name one")));
      return;
    }
  } else if (!ValidTaskId(now.task_id())) {
    reply(AnswerTo(cmd, MakeError(ErrorCode::kBadRequest, "not a task id")));
    return;
  } else {
    ids.push_back(now.task_id());
  }
  std::vector<snapshot::CreateRequest> requests;
  std::vector<uint32_t> attempts;
  for (const auto& id : ids) {
    requests.push_back({.workspace = WorkspacePath(options_.data_dir, id),
                        .trigger = "manual",
                        .task_id = id,
                        .machine_id = machine_id_,
                        .label = now.label().substr(0, 200)});
    attempts.push_back(tasks_.AttemptOf(id));
  }
  OnDisk(
      [requests](Disk& d) {
        std::vector<Taken> out;
        for (const auto& r : requests) out.push_back(Take(d, r));
        return out;
      },
      [this, cmd, reply, requests, attempts](std::vector<Taken> results) {
        // Every checkpoint taken is reported; the answer fails only when none was.
        v1::CommandReply answer;
        std::optional<Error> failed;
        for (size_t i = 0; i < results.size(); ++i) {
          const auto& r = results[i].result;
          if (!r) {
            Failed(requests[i].task_id, attempts[i], r.error());
            failed = r.error();
            continue;
          }
          failures_.erase(requests[i].task_id);
          timings_.take["manual"].Observe(results[i].seconds);
          Emit(r->manifest, attempts[i]);
          *answer.add_checkpoints() = r->manifest;
        }
        if (failed && answer.checkpoints_size() == 0) return reply(AnswerTo(cmd, *failed));
        reply(AnswerTo(cmd, std::move(answer)));
      });
}

// Finds the checkpoint's task, pauses its tool if it runs, then restores in place.
void CheckpointKeeper::Restore(const v1::Command& cmd, Reply reply) {
  const auto& req = cmd.restore_checkpoint();
  OnDisk(
      [id = req.checkpoint_id()](Disk& d) { return d.store->Get(id); },
      [this, cmd, reply](Result<v1::CheckpointManifest> m) {
        if (!m) return reply(AnswerTo(cmd, m.error()));
        std::string task = cmd.restore_checkpoint().task_id();
        if (task.empty()) task = m->task_id();
        if (!ValidTaskId(task)) {
          return reply(AnswerTo(
              cmd, MakeError(ErrorCode::kBadRequest, "checkpoint " + m->id() +
                                                         " belongs to no task: name the task to "
                                                         "restore it into")));
        }
        if (busy_.contains(task)) {
          return reply(AnswerTo(
              cmd, MakeError(ErrorCode::kBusy, "task " + task + "'s workspace is being restored")));
        }
        // No tool of the task may start until the workspace is back (Busy()).
        busy_.insert(task);
        if (tasks_.Running(task)) tasks_.Pause(task, "restoring checkpoint " + m->id());
        tasks_.WhenEnded(task, [this, cmd, reply, task, id = m->id()] {
          RestoreWorkspace(id, task, 0, [cmd, reply](Result<snapshot::RestoreResult> done) {
            if (!done) return reply(AnswerTo(cmd, done.error()));
            v1::CommandReply answer;
            if (done->before) *answer.add_checkpoints() = *done->before;
            reply(AnswerTo(cmd, std::move(answer)));
          });
        });
      });
}

void CheckpointKeeper::Seed(const v1::RunTask& task, std::function<void(Result<void>)> done) {
  if (task.from_checkpoint().empty()) return done({});
  if (!ValidTaskId(task.task_id())) return done(MakeError(ErrorCode::kBadTask, "not a task id"));
  if (busy_.contains(task.task_id()) || tasks_.Running(task.task_id())) {
    return done(MakeError(ErrorCode::kBusy, "task " + task.task_id() + "'s workspace is in use"));
  }
  busy_.insert(task.task_id());
  RestoreWorkspace(task.from_checkpoint(), task.task_id(), task.attempt(),
                   [done = std::move(done)](Result<snapshot::RestoreResult> restored) {
                     done(restored ? Result<void>{} : Result<void>(restored.error()));
                   });
}

// Writes checkpoint `id` into the task's workspace (replacing what is there), reports the
// before_restore checkpoint if one was taken, and frees the workspace (busy_).
void CheckpointKeeper::RestoreWorkspace(const std::string& id, const std::string& task,
                                        uint32_t attempt,
                                        std::function<void(Result<snapshot::RestoreResult>)> done) {
  snapshot::RestoreRequest r{.id = id,
                             .target = WorkspacePath(options_.data_dir, task),
                             .task_id = task,
                             .machine_id = machine_id_};
  // The before_restore checkpoint is reported even when the restore then fails.
  struct Outcome {
    std::optional<v1::CheckpointManifest> before;
    Result<snapshot::RestoreResult> restored;
    double seconds = 0;
  };
  OnDisk(
      [r, data_dir = options_.data_dir](Disk& d) mutable {
        if (auto made = MakeDirs(WorkspacesDir(data_dir), 0700); !made) {
          return Outcome{std::nullopt, made.error()};
        }
        std::error_code ec;
        r.replace = std::filesystem::exists(r.target, ec);
        std::optional<v1::CheckpointManifest> before;
        r.on_before = [&before](const v1::CheckpointManifest& m) { before = m; };
        const auto start = SteadyClock::now();
        auto restored = d.store->Restore(r);
        return Outcome{std::move(before), std::move(restored), SecondsSince(start)};
      },
      [this, id, task, attempt, done = std::move(done)](Outcome out) {
        busy_.erase(task);
        if (out.before) Emit(*out.before, attempt);
        if (out.restored) {
          timings_.restore.Observe(out.seconds);
          spdlog::info("restored checkpoint {} into the workspace of task {} files={}", id, task,
                       out.restored->restored.files);
          if (!out.restored->not_kept.empty()) {
            spdlog::warn("what checkpoint {} replaced in the workspace of task {} was not kept: {}",
                         id, task, out.restored->not_kept);
          }
        }
        done(std::move(out.restored));
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
  snapshot::CreateRequest r{.workspace = WorkspacePath(options_.data_dir, task_id),
                            .trigger = "auto",
                            .task_id = task_id,
                            .machine_id = machine_id_,
                            .only_if_changed = true};
  OnDisk([r](Disk& d) { return Take(d, r); }, [this, task_id, attempt = tasks_.AttemptOf(task_id)](
                                                  Taken taken) { Took(taken, task_id, attempt); });
}

void CheckpointKeeper::TaskEnded(const std::string& task_id, uint32_t attempt) {
  auto it = auto_.find(task_id);
  if (it != auto_.end()) auto_.erase(it);  // cancels a due automatic one: this one replaces it
  if (!options_.settings.at_task_end || !ValidTaskId(task_id)) return;
  snapshot::CreateRequest r{.workspace = WorkspacePath(options_.data_dir, task_id),
                            .trigger = "task_end",
                            .task_id = task_id,
                            .machine_id = machine_id_,
                            .only_if_changed = true};
  OnDisk([r](Disk& d) { return Take(d, r); },
         [this, task_id, attempt](Taken taken) { Took(taken, task_id, attempt); });
}

CheckpointKeeper::Taken CheckpointKeeper::Take(Disk& d, const snapshot::CreateRequest& r) {
  const auto start = SteadyClock::now();
  auto result = d.store->Create(r);
  return Taken{std::move(result), SecondsSince(start)};
}

void CheckpointKeeper::Took(const Taken& t, const std::string& task_id, uint32_t attempt) {
  const Result<snapshot::CreateResult>& r = t.result;
  if (!r) return Failed(task_id, attempt, r.error());
  failures_.erase(task_id);
  if (!r->skipped.empty()) {
    spdlog::warn("checkpoint {} left out {} entries (sockets, devices, unreadable), first: {}",
                 r->manifest.id(), r->skipped.size(), r->skipped.front());
  }
  if (!r->created) return;
  timings_.take[r->manifest.trigger()].Observe(t.seconds);
  Emit(r->manifest, attempt);
  MaybePrune();
}

// The user reads why in the task's log (once per reason, not at every LLM response); a
// checkpoint taken on command also answers with it.
void CheckpointKeeper::Failed(const std::string& task_id, uint32_t attempt, const Error& e) {
  spdlog::warn("checkpoint of task {} failed: {}", task_id, e.message);
  ++timings_.failures;
  if (attempt == 0 || !ValidTaskId(task_id)) return;
  auto [it, added] = failures_.try_emplace(task_id, attempt, e.message);
  if (!added && it->second == std::pair(attempt, e.message)) return;
  it->second = {attempt, e.message};
  v1::AgentEvent event;
  v1::TaskLog& note = *event.mutable_task_log();
  note.set_task_id(task_id);
  note.set_attempt(attempt);
  note.set_stream(v1::LOG_STREAM_AGENT);
  note.set_data("checkpoint failed: " + e.message + "\n");
  outbox_.Add(std::move(event));
}

void CheckpointKeeper::MaybePrune() {
  const auto now = SteadyClock::now();
  if (!pins_heard_ && now - opened_ < kPinsAwaited) return;
  if (last_prune_ != SteadyClock::time_point{} &&
      now - last_prune_ < options_.settings.prune_every) {
    return;
  }
  last_prune_ = now;
  OnDisk(
      [retention =
           snapshot::Retention{.keep_auto = options_.settings.keep_auto,
                               .keep_daily_days = static_cast<int>(options_.settings.keep_days)},
       pinned = pinned_](Disk& d) mutable {
        // A checkpoint being exported stays until its archive is read.
        pinned.merge(d.exports.Checkpoints());
        return d.store->Prune(retention, pinned, SystemClock().NowMs());
      },
      [this](Result<snapshot::PruneReport> r) {
        if (!r) {
          spdlog::warn("checkpoint retention failed: {}", r.error().message);
          return;
        }
        if (r->removed.empty()) return;
        spdlog::info("checkpoint retention removed {} checkpoints, freed {} bytes",
                     r->removed.size(), r->freed_bytes);
        v1::AgentEvent e;
        for (const auto& id : r->removed) e.mutable_checkpoints_removed()->add_checkpoint_ids(id);
        outbox_.Add(std::move(e));
      });
}

}  // namespace autovibe
