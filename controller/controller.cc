#include "controller/controller.h"

#include <spdlog/spdlog.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <filesystem>
#include <optional>
#include <thread>

#include "autovibe/v1/command.pb.h"
#include "autovibe/v1/event.pb.h"
#include "common/bus/bus.h"
#include "common/core/files.h"
#include "common/core/ids.h"
#include "common/http/server.h"
#include "controller/admin_token.h"
#include "controller/api/api.h"
#include "controller/api/budgets_api.h"
#include "controller/api/checkpoints_api.h"
#include "controller/api/machines_api.h"
#include "controller/api/task_followers.h"
#include "controller/api/tasks_api.h"
#include "controller/budget_bridge.h"
#include "controller/budgets/alerts.h"
#include "controller/budgets/budget_book.h"
#include "controller/budgets/lease_service.h"
#include "controller/checkpoints/checkpoint_service.h"
#include "controller/fleet/fleet.h"
#include "controller/machines/machine_manager.h"
#include "controller/machines/nats_auth.h"
#include "controller/provisioners/factory.h"
#include "controller/store/backup.h"
#include "controller/store/store.h"
#include "controller/task_dispatch.h"
#include "controller/tasks/task_book.h"
#include "controller/write_batch.h"

namespace autovibe {
namespace {

namespace asio = boost::asio;

constexpr size_t kMaxControlMessage = 64 * 1024;
constexpr auto kFlushEvery = std::chrono::seconds(2);
// Rows per flush step: about 5 ms of SQLite work, so heartbeats queued meanwhile wait no more.
constexpr size_t kFlushRowsPerStep = 1000;
constexpr auto kTickEvery = std::chrono::seconds(1);
// How often agents hear which of their checkpoints tasks depend on, in ticks.
constexpr uint64_t kPinEveryTicks = 30;

class ControllerImpl final : public Controller {
 public:
  explicit ControllerImpl(ControllerConfig config)
      : config_(std::move(config)),
        signals_(ioc_, SIGTERM, SIGINT),
        liveness_timer_(ioc_),
        flush_timer_(ioc_),
        tick_timer_(ioc_),
        backup_timer_(ioc_) {}

  ~ControllerImpl() override {
    // Subscriptions first (no more callbacks), then the workers that use the bus, then the
    // bus, then what callbacks touched.
    subs_.clear();
    if (machines_) machines_->Stop();
    if (leases_) leases_->Stop();
    if (dispatch_) dispatch_->Stop();
    if (checkpoints_) checkpoints_->Stop();
    blocking_.join();
    bus_.reset();
  }

  Result<void> Init() {
    if (auto r = MakeDirs(config_.data_dir, 0700); !r) return r.error();
    auto lock = DataDirLock::Take(config_.data_dir);
    if (!lock) return lock.error();
    lock_.emplace(std::move(*lock));
    auto store = OpenSqliteStore(config_.data_dir + "/controller.db");
    if (!store) return store.error();
    store_ = std::move(*store);
    auto token = LoadOrCreateAdminToken(config_.data_dir);
    if (!token) return token.error();
    fleet_ = std::make_unique<Fleet>(
        *store_, clock_,
        FleetOptions{config_.heartbeat_interval, config_.heartbeat_ttl, config_.subject_prefix});
    if (auto r = fleet_->Load(); !r) return r.error();
    batch_ = std::make_unique<WriteBatch>(*store_, ioc_);
    followers_ = std::make_unique<TaskFollowers>(fleet_.get());

    auto hp = ParseHostPort(config_.listen);
    if (!hp) return hp.error();
    BusOptions bo;
    bo.url = config_.nats_url;
    bo.name = "autovibe-controller";
    bo.user = config_.nats_user;
    bo.password = config_.nats_password;
    // The controller publishes thousands of commands and acks a second from its owner thread.
    bo.write_at_once = false;
    // The events stream is set up (or found) and consumed once the bus is there.
    bo.on_connected = [this] { asio::post(ioc_, [this] { dispatch_->StartEventConsumer(); }); };
    auto bus = ConnectNats(std::move(bo));
    if (!bus) return bus.error();
    bus_ = std::move(*bus);
    dispatch_ = std::make_unique<TaskDispatch>(
        TaskDispatchDeps{&ioc_, bus_.get(), batch_.get(), fleet_.get(), store_.get(),
                         followers_.get(), &blocking_, config_.subject_prefix});
    tasks_ = std::make_unique<TaskBook>(*store_, clock_, *dispatch_, TaskBookOptions{});
    dispatch_->Attach(tasks_.get());
    checkpoints_ = std::make_unique<CheckpointService>(CheckpointServiceDeps{
        &ioc_, bus_.get(), batch_.get(), fleet_.get(), store_.get(), config_.subject_prefix,
        config_.checkpoint_replicas,
        [this](std::string_view task) { return tasks_->Unfinished(task); },
        [this] { return tasks_->StartingPoints(); },
        [this](std::string_view checkpoint) { return tasks_->IsStartingPoint(checkpoint); },
        [this](std::string_view id) {
          const TaskRecord* t = tasks_->Find(id);
          return t == nullptr ? std::string() : t->machine_id;
        }});
    if (auto r = checkpoints_->Load(); !r) return r.error();
    dispatch_->AttachCheckpoints(checkpoints_.get());
    for (const MachineRecord* m : fleet_->List()) dispatch_->SyncMachine(*m);
    if (auto r = tasks_->Load(); !r) return r.error();
    if (auto r = StartBudgets(); !r) return r.error();
    if (auto r = StartMachines(); !r) return r.error();

    tasks_api_ = std::make_unique<TasksApi>(
        TasksApiDeps{tasks_.get(), fleet_.get(), followers_.get(), [this] { batch_->Commit(); },
                     [this] { dispatch_->RequestSchedule(); },
                     [this](std::string_view id) { return checkpoints_->Find(id) != nullptr; },
                     [this](std::string_view task) { return checkpoints_->Restoring(task); }});
    budgets_api_ = std::make_unique<BudgetsApi>(BudgetsApiDeps{
        budgets_.get(),
        [this](std::string_view name) { return tasks_->FindProject(name) != nullptr; },
        [this] { batch_->Commit(); }});
    checkpoints_api_ = std::make_unique<CheckpointsApi>(
        CheckpointsApiDeps{checkpoints_.get(), fleet_.get(), machines_.get()});
    machines_api_ = std::make_unique<MachinesApi>(
        MachinesApiDeps{fleet_.get(), machines_.get(), [this] { batch_->Commit(); }});
    api_ = std::make_unique<Api>(ApiDeps{fleet_.get(), &bus_->Stats(), &heartbeat_lag_, *token,
                                         tasks_api_.get(), tasks_.get(), budgets_api_.get(),
                                         checkpoints_api_.get(), machines_api_.get()});
    HttpServerOptions ho;
    ho.host = hp->first;
    ho.port = hp->second;
    auto server =
        StartHttpServer(ioc_, ho, [this](const HttpRequest& r) { return api_->Handle(r); });
    if (!server) return server.error();
    http_ = std::move(*server);

    if (auto r = Subscribe(); !r) return r.error();
    spdlog::info("controller listening api=http://{}:{} nats={} data_dir={}", ho.host,
                 http_->port(), config_.nats_url, config_.data_dir);
    return {};
  }

  int Run() override {
    signals_.async_wait([this](boost::system::error_code ec, int sig) {
      if (!ec) {
        spdlog::info("controller stopping on signal {}", sig);
        Shutdown();
      }
    });
    ScheduleLiveness();
    ScheduleFlush();
    ScheduleTick();
    ScheduleBackup();
    dispatch_->RequestSchedule();
    ioc_.run();
    return 0;
  }

  void Stop() override {
    asio::post(ioc_, [this] { Shutdown(); });
  }

 private:
  Result<void> Subscribe() {
    const std::string& p = config_.subject_prefix;
    auto reg = bus_->Subscribe(
        p + ".register", "register", kMaxControlMessage,
        [this](BusMessage m) { asio::post(ioc_, [this, m = std::move(m)] { OnRegister(m); }); });
    if (!reg) return reg.error();
    subs_.push_back(std::move(*reg));
    // Machines that know their id register on a subject of their own: with per-machine bus
    // credentials, the subject proves who is speaking.
    auto own = bus_->Subscribe(
        p + ".register.*", "register", kMaxControlMessage,
        [this](BusMessage m) { asio::post(ioc_, [this, m = std::move(m)] { OnRegister(m); }); });
    if (!own) return own.error();
    subs_.push_back(std::move(*own));
    auto hb = bus_->Subscribe(p + ".hb.*", "heartbeat", kMaxControlMessage, [this](BusMessage m) {
      asio::post(ioc_, [this, m = std::move(m)] { OnHeartbeat(m); });
    });
    if (!hb) return hb.error();
    subs_.push_back(std::move(*hb));
    return leases_->Start();
  }

  // Budgets, leases and the usage ledger. Projects whose budget ran out before a restart stay
  // held.
  Result<void> StartBudgets() {
    bridge_ = std::make_unique<BudgetBridge>(*tasks_, [this] { dispatch_->RequestSchedule(); });
    if (!config_.alert_webhook.empty()) {
      webhook_ = std::make_unique<WebhookAlertSink>(WebhookOptions{
          .url = config_.alert_webhook, .after_commit = [this](std::function<void()> send) {
            batch_->AfterCommit(std::move(send));
          }});
    }
    alert_log_ = std::make_unique<LogAlertSink>(webhook_.get());
    budgets_ =
        std::make_unique<BudgetBook>(store_->budgets(), clock_, *bridge_, *bridge_, *alert_log_,
                                     BudgetBookOptions{.lease_ttl = config_.lease_ttl});
    if (auto r = budgets_->Load(); !r) return r.error();
    for (const ProjectRecord* p : tasks_->Projects()) {
      if (auto e = budgets_->ExhaustedBy(p->name)) {
        tasks_->BudgetExhausted(p->name, e->reason, e->pause);
      }
    }
    dispatch_->OnUsage([this](const v1::AgentEvent& ev) {
      if (auto r = budgets_->ApplyUsage(ev.machine_id(), clock_.NowMs(), ev.usage(), ev.event_id());
          !r) {
        spdlog::error("controller cannot record usage {}: {}", ev.event_id(), r.error().message);
      }
    });
    leases_ = std::make_unique<LeaseService>(
        LeaseServiceDeps{&ioc_, bus_.get(), batch_.get(), budgets_.get(), config_.subject_prefix});
    return {};
  }

  // Pools of machines the controller makes and retires itself.
  Result<void> StartMachines() {
    std::map<std::string, std::unique_ptr<Provisioner>> provisioners;
    // Agents, containers and hosts get paths that mean the same from anywhere.
    std::error_code ec;
    const std::string data_dir = std::filesystem::absolute(config_.data_dir, ec).string();
    const ProvisionerContext context{data_dir, SelfDir() + "/autovibe-agent",
                                     DefaultTemplatesDir()};
    for (const PoolConfig& p : config_.pools) {
      auto made = MakeProvisioner(p, context);
      if (!made) return made.error();
      provisioners[p.name] = std::move(*made);
    }
    MachineManagerDeps d;
    d.ioc = &ioc_;
    d.fleet = fleet_.get();
    d.store = store_.get();
    d.bus = bus_.get();
    d.clock = &clock_;
    d.subject_prefix = config_.subject_prefix;
    d.nats_url = config_.agent_nats_url.empty() ? config_.nats_url : config_.agent_nats_url;
    d.open_batch = [this] { batch_->Open(); };
    d.machine_changed = [this](const MachineRecord& m) {
      dispatch_->SyncMachine(m);
      dispatch_->RequestSchedule();
    };
    d.machine_gone = [this](const MachineRecord& m, const std::string& why) {
      if (nats_auth_) nats_auth_->Forget(m.id);
      dispatch_->SyncMachine(m);
      tasks_->MachineGone(m.id, why);
      budgets_->MachineForgotten(m.id);
      dispatch_->RequestSchedule();
    };
    d.tasks_on = [this](const std::string& id) { return tasks_->scheduler().Held(id).size(); };
    d.waiting_tasks = [this] {
      std::vector<WaitingTask> out;
      for (const TaskRecord* t : tasks_->List("", TaskState::kQueued, SIZE_MAX)) {
        if (!tasks_->scheduler().IsQueued(t->id)) continue;
        out.push_back({t->id, t->project, t->spec.tool, t->spec.labels});
      }
      return out;
    };
    d.may_spend = [this](const std::string& project) {
      return !budgets_->Exhausted(project) &&
             budgets_->HasRoom(project, BudgetResource::kMachineSeconds);
    };
    if (!config_.nats_auth_file.empty()) {
      nats_auth_ = std::make_unique<NatsAuth>(
          *store_, clock_,
          NatsAuthOptions{config_.nats_auth_file, config_.nats_pid_file, config_.nats_user,
                          config_.nats_password, config_.subject_prefix});
      if (auto r = nats_auth_->Load(); !r) return r.error();
      d.credentials = [this](const MachineRecord& m) { return nats_auth_->Mint(m.id); };
      d.await_login = [](const AgentSettings& a) -> Result<void> {
        // The server reloads its users a few milliseconds after the signal.
        Result<void> r;
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
        do {
          r = CheckNatsLogin(a.nats_url, a.nats_user, a.nats_password,
                             std::chrono::milliseconds(500));
          if (r) return r;
          std::this_thread::sleep_for(std::chrono::milliseconds(5));
        } while (std::chrono::steady_clock::now() < deadline);
        return MakeError("unavailable",
                         "nats-server did not accept the machine's new "
                         "credentials within 5s: " +
                             r.error().message);
      };
    }
    machines_ =
        std::make_unique<MachineManager>(std::move(d), config_.pools, std::move(provisioners));
    machines_->Load();
    return {};
  }

  void OnRegister(const BusMessage& m) {
    auto req = DecodeOrReject<v1::RegisterRequest>(*bus_, m, "register");
    v1::RegisterReply reply;
    std::string registered;  // the machine, when accepted
    if (!req) {
      reply.set_error("register request is not a valid RegisterRequest message");
    } else if (std::string why = ImpersonationIn(m.subject, *req); !why.empty()) {
      bus_->Stats().Reject("register", "subject_mismatch", m.subject, m.data.size());
      reply.set_error(why);
    } else if (const MachineRecord* known = fleet_->FindByName(req->name());
               known != nullptr && machines_->Terminating(known->id)) {
      reply.set_error("machine " + known->name + " is being terminated");
    } else {
      batch_->Open();
      RegisterOutcome outcome;
      reply = fleet_->Register(*req, &outcome);
      if (outcome.accepted) {
        const MachineRecord& rec = *fleet_->Find(reply.machine_id());
        dispatch_->SyncMachine(rec);
        machines_->Registered(rec);
        if (outcome.agent_restarted) {
          tasks_->MachineGone(rec.id, "the agent on machine " + rec.name + " restarted");
          budgets_->MachineRestarted(rec.id);
        }
        tasks_->ReportedRunning(rec.id,
                                {req->running_task_ids().begin(), req->running_task_ids().end()});
        dispatch_->RequestSchedule();
        registered = rec.id;
      }
    }
    // Answers go to inboxes only: the controller may publish anywhere, and a machine must not
    // make it write into another machine's subjects.
    if (!m.reply.empty() && !m.reply.starts_with("_INBOX")) {
      bus_->Stats().Reject("register", "bad_reply_subject", m.subject, m.data.size());
    } else if (!m.reply.empty()) {
      // Answered once the registration is durable: a controller killed right after still
      // knows the machine when it comes back.
      batch_->AfterCommit([this, to = m.reply, data = reply.SerializeAsString()] {
        if (auto r = bus_->Publish(to, data); !r) {
          spdlog::warn("controller cannot answer register: {}", r.error().message);
        }
      });
    }
    // After its answer (AfterCommit keeps the order): the agent's retention waits for its
    // first pins, and the catalogue learns which copies its store still has.
    if (!registered.empty()) {
      batch_->AfterCommit([this, id = registered] { checkpoints_->MachineRegistered(id); });
    }
  }

  // A registration on <prefix>.register.<m> speaks for machine m only: its id must be m, and
  // neither m nor the name it gives may belong to another machine. Empty when it is fine.
  std::string ImpersonationIn(const std::string& subject, const v1::RegisterRequest& req) const {
    const std::string shared = config_.subject_prefix + ".register";
    if (subject == shared) return "";
    const std::string id = subject.substr(shared.size() + 1);
    if (req.machine_id() != id) {
      return "a registration on " + subject + " must carry machine id " + id;
    }
    const MachineRecord* by_id = fleet_->Find(id);
    const MachineRecord* by_name = fleet_->FindByName(req.name());
    if ((by_id != nullptr && by_id->name != req.name()) ||
        (by_name != nullptr && by_name->id != id)) {
      return "machine " + id + " cannot register under the name " + req.name().substr(0, 80);
    }
    return "";
  }

  void OnHeartbeat(const BusMessage& m) {
    auto hb = DecodeOrReject<v1::Heartbeat>(*bus_, m, "heartbeat");
    if (!hb) return;
    // The subject names the machine; a heartbeat for another machine is not accepted.
    const std::string expected = config_.subject_prefix + ".hb." + hb->machine_id();
    if (m.subject != expected) {
      bus_->Stats().Reject("heartbeat", "subject_mismatch", m.subject, m.data.size());
      return;
    }
    switch (fleet_->Heartbeat(*hb)) {
      case HeartbeatOutcome::kApplied:
        if (hb->running_task_ids_size() > 0) {
          batch_->Open();
          tasks_->ReportedRunning(hb->machine_id(),
                                  {hb->running_task_ids().begin(), hb->running_task_ids().end()});
        }
        if (hb->sent_at_unix_ns() > 0) {
          heartbeat_lag_.Observe(static_cast<double>(UnixNowNs() - hb->sent_at_unix_ns()) / 1e9);
        }
        break;
      case HeartbeatOutcome::kUnknownMachine:
        AskToRegister(hb->machine_id());
        break;
      case HeartbeatOutcome::kInvalid:
        break;
    }
  }

  // An agent the controller does not know (or has marked lost) is told to register again.
  // Rate-limited per machine so a stale agent heartbeating fast cannot make us flood it.
  void AskToRegister(const std::string& machine_id) {
    const int64_t now = clock_.NowMs();
    int64_t& last = reregister_asked_[machine_id];
    if (now - last < 1000) return;
    last = now;
    if (reregister_asked_.size() > 100'000) reregister_asked_.clear();
    v1::Command cmd;
    cmd.set_command_id(NewId("c"));
    cmd.mutable_reregister();
    bus_->Publish(config_.subject_prefix + ".cmd." + machine_id, cmd.SerializeAsString());
  }

  void ScheduleLiveness() {
    // Check often enough that "lost" is declared within ttl + a small fraction of it.
    auto every = std::max<Duration>(std::chrono::milliseconds(50), config_.heartbeat_ttl / 20);
    liveness_timer_.expires_after(std::min<Duration>(every, std::chrono::milliseconds(250)));
    liveness_timer_.async_wait([this](boost::system::error_code ec) {
      if (ec || stopping_) return;
      // Cut off from the bus the controller hears no heartbeats, which says nothing about
      // the machines: their deadlines keep moving until the bus is back.
      if (bus_->Connected()) {
        auto lost = fleet_->CheckLiveness();
        if (!lost.empty()) batch_->Open();
        for (const std::string& id : lost) {
          const MachineRecord& rec = *fleet_->Find(id);
          dispatch_->SyncMachine(rec);
          tasks_->MachineGone(id, "machine " + rec.name + " was lost (no heartbeat within " +
                                      std::to_string(config_.heartbeat_ttl.count()) + " ms)");
        }
        if (!lost.empty()) dispatch_->RequestSchedule();
      } else {
        fleet_->RefreshDeadlines();
      }
      ScheduleLiveness();
    });
  }

  void ScheduleFlush() {
    flush_timer_.expires_after(kFlushEvery);
    flush_timer_.async_wait([this](boost::system::error_code ec) {
      if (ec || stopping_) return;
      FlushStep();
    });
  }

  // Writes one slice of heartbeat rows, then lets queued work run before the next slice.
  void FlushStep() {
    if (stopping_) return;
    auto done = fleet_->FlushSome(kFlushRowsPerStep);
    if (!done) spdlog::error("controller flush: {}", done.error().message);
    if (done && !*done) {
      asio::post(ioc_, [this] { FlushStep(); });
      return;
    }
    ScheduleFlush();
  }

  void Shutdown() {
    if (stopping_) return;
    stopping_ = true;
    if (http_) http_->Stop();
    liveness_timer_.cancel();
    flush_timer_.cancel();
    tick_timer_.cancel();
    backup_timer_.cancel();
    // Commit first: what waits for the commit (acks of consumed events, commands) still has
    // its subscription and bus.
    if (batch_) batch_->Commit();
    if (machines_) machines_->Stop();
    if (leases_) leases_->Stop();
    if (dispatch_) dispatch_->Stop();
    if (checkpoints_) checkpoints_->Stop();
    signals_.cancel();
    subs_.clear();
    if (fleet_) {
      if (auto r = fleet_->Flush(); !r) spdlog::error("controller flush: {}", r.error().message);
    }
    ioc_.stop();
  }

  // Once a second: assignments nobody confirmed go back to the queue, and a scheduling pass
  // runs in case a change slipped past the triggers.
  void ScheduleTick() {
    tick_timer_.expires_after(kTickEvery);
    tick_timer_.async_wait([this](boost::system::error_code ec) {
      if (ec || stopping_) return;
      batch_->Open();
      tasks_->Tick();
      budgets_->Tick();
      if (ticks_++ % kPinEveryTicks == 0) checkpoints_->SyncPins();
      machines_->Tick();
      dispatch_->RequestSchedule();
      ScheduleTick();
    });
  }

  // The database copied into backup_dir every backup_every (off the owner thread: the copy
  // reads through a connection of its own), the oldest beyond backup_keep removed.
  void ScheduleBackup() {
    if (config_.backup_every.count() <= 0) return;
    backup_timer_.expires_after(config_.backup_every);
    backup_timer_.async_wait([this](boost::system::error_code ec) {
      if (ec || stopping_) return;
      const std::string dir =
          config_.backup_dir.empty() ? config_.data_dir + "/backups" : config_.backup_dir;
      asio::post(blocking_, [dir, db = config_.data_dir + "/controller.db",
                             keep = config_.backup_keep, now = clock_.NowMs()] {
        if (auto r = MakeDirs(dir, 0700); !r) {
          spdlog::error("backup: {}", r.error().message);
          return;
        }
        auto b = BackupDatabase(db, dir + "/" + BackupFileName(now));
        if (!b) {
          spdlog::error("backup failed: {}", b.error().message);
          return;
        }
        spdlog::info("backup written path={} bytes={} pruned={}", b->path, b->bytes,
                     PruneBackups(dir, keep));
      });
      ScheduleBackup();
    });
  }

  ControllerConfig config_;
  std::optional<DataDirLock> lock_;  // held while this controller runs on its data dir
  asio::io_context ioc_{1};
  // Blocking bus work (setting up the events stream) runs here and posts results back.
  asio::thread_pool blocking_{1};
  asio::signal_set signals_;
  asio::steady_timer liveness_timer_;
  asio::steady_timer flush_timer_;
  asio::steady_timer tick_timer_;
  asio::steady_timer backup_timer_;
  SystemClock clock_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<Fleet> fleet_;
  std::unique_ptr<Bus> bus_;
  std::vector<std::unique_ptr<Subscription>> subs_;
  std::unique_ptr<WriteBatch> batch_;
  std::unique_ptr<TaskBook> tasks_;
  std::unique_ptr<BudgetBridge> bridge_;
  std::unique_ptr<WebhookAlertSink> webhook_;
  std::unique_ptr<LogAlertSink> alert_log_;
  std::unique_ptr<BudgetBook> budgets_;
  std::unique_ptr<LeaseService> leases_;
  std::unique_ptr<BudgetsApi> budgets_api_;
  std::unique_ptr<TaskFollowers> followers_;
  std::unique_ptr<TasksApi> tasks_api_;
  std::unique_ptr<TaskDispatch> dispatch_;
  std::unique_ptr<CheckpointService> checkpoints_;
  std::unique_ptr<CheckpointsApi> checkpoints_api_;
  std::unique_ptr<NatsAuth> nats_auth_;
  std::unique_ptr<MachineManager> machines_;
  std::unique_ptr<MachinesApi> machines_api_;
  std::unique_ptr<Api> api_;
  std::unique_ptr<HttpServer> http_;
  LatencyHistogram heartbeat_lag_;
  std::unordered_map<std::string, int64_t> reregister_asked_;
  uint64_t ticks_ = 0;
  bool stopping_ = false;
};

}  // namespace

Result<std::unique_ptr<Controller>> CreateController(const ControllerConfig& config) {
  auto c = std::make_unique<ControllerImpl>(config);
  if (auto r = c->Init(); !r) return r.error();
  return std::unique_ptr<Controller>(std::move(c));
}

}  // namespace autovibe
