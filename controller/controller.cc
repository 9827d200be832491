// The controller's wiring: creates the parts, each given what it uses at construction, in an
// order where nothing is used before it exists, and connects the agents' events to the parts
// that apply them. Behaviour lives in the parts; see the README's THREADS section.
#include "controller/controller.h"

#include <spdlog/spdlog.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <filesystem>
#include <limits>
#include <optional>

#include "common/bus/bus.h"
#include "common/core/files.h"
#include "common/core/open_files.h"
#include "common/http/server.h"
#include "controller/agents/archive_agents.h"
#include "controller/agents/checkpoint_agents.h"
#include "controller/agents/event_intake.h"
#include "controller/agents/join_service.h"
#include "controller/agents/lease_service.h"
#include "controller/agents/machine_commands.h"
#include "controller/agents/registration.h"
#include "controller/agents/result_agents.h"
#include "controller/agents/sender_rules.h"
#include "controller/agents/task_commands.h"
#include "controller/api/admin_token.h"
#include "controller/api/api.h"
#include "controller/api/audit_api.h"
#include "controller/api/budgets_api.h"
#include "controller/api/checkpoints_api.h"
#include "controller/api/events_api.h"
#include "controller/api/join_tokens_api.h"
#include "controller/api/machines_api.h"
#include "controller/api/request_audit.h"
#include "controller/api/secrets_api.h"
#include "controller/api/task_followers.h"
#include "controller/api/tasks_api.h"
#include "controller/api/tokens_api.h"
#include "controller/api/webhooks_api.h"
#include "controller/api_tls.h"
#include "controller/audit/audit_trail.h"
#include "controller/auth/token_book.h"
#include "controller/budget_bridge.h"
#include "controller/budgets/alerts.h"
#include "controller/budgets/budget_book.h"
#include "controller/checkpoints/checkpoint_service.h"
#include "controller/events/audit_events.h"
#include "controller/events/event_feed.h"
#include "controller/fleet/fleet.h"
#include "controller/machine_reactions.h"
#include "controller/machines/join_tokens.h"
#include "controller/machines/machine_manager.h"
#include "controller/machines/nats_auth.h"
#include "controller/metrics/alert_counter.h"
#include "controller/metrics/task_timings.h"
#include "controller/notify/webhook_notifier.h"
#include "controller/provisioners/factory.h"
#include "controller/publish/forge.h"
#include "controller/publish/pull_request_opener.h"
#include "controller/results/result_keeper.h"
#include "controller/secrets/secret_store.h"
#include "controller/store/backup.h"
#include "controller/store/scheduled_backups.h"
#include "controller/store/store.h"
#include "controller/store/write_batch.h"
#include "controller/tasks/task_book.h"

namespace autovibe {
namespace {

namespace asio = boost::asio;

constexpr auto kTickEvery = std::chrono::seconds(1);
// How often agents hear which of their checkpoints tasks depend on, in ticks.
constexpr uint64_t kPinEveryTicks = 30;

class ControllerImpl final : public Controller {
 public:
  explicit ControllerImpl(ControllerConfig config)
      : config_(std::move(config)), signals_(ioc_, SIGTERM, SIGINT), tick_timer_(ioc_) {}

  ~ControllerImpl() override {
    // What listens on the bus first (no more callbacks), then the workers that use the bus,
    // then the bus, then what callbacks touched.
    StopParts();
    blocking_.join();
    bus_.reset();
  }

  Result<void> Init() {
    if (auto r = RequireBusUsers(config_); !r) return r;
    if (config_.insecure_bus) WarnInsecureBus();
    if (auto r = OpenState(); !r) return r;
    if (auto r = ConnectBus(); !r) return r;
    if (auto r = MakeParts(); !r) return r;
    RouteAgentEvents();
    return ServeApi();
  }

  int Run() override {
    signals_.async_wait([this](boost::system::error_code ec, int sig) {
      if (!ec) {
        spdlog::info("controller stopping on signal {}", sig);
        Shutdown();
      }
    });
    ScheduleTick();
    backups_->Start();
    tasks_->RequestSchedule();
    ioc_.run();
    return exit_code_;
  }

  void Stop() override {
    asio::post(ioc_, [this] { Shutdown(); });
  }

 private:
  // The data dir (locked: one controller per dir), the database, the admin token, the fleet.
  Result<void> OpenState() {
    if (auto r = MakeDirs(config_.data_dir, 0700); !r) return r.error();
    auto lock = DataDirLock::Take(config_.data_dir);
    if (!lock) return lock.error();
    lock_.emplace(std::move(*lock));
    auto store = OpenSqliteStore(config_.data_dir + "/controller.db");
    if (!store) return store.error();
    store_ = std::move(*store);
    auto token = LoadOrCreateAdminToken(config_.data_dir);
    if (!token) return token.error();
    admin_token_ = *token;
    tokens_ = std::make_unique<TokenBook>(TokenBookDeps{
        &store_->api_tokens(), &clock_,
        [this](std::string_view p) { return tasks_ && tasks_->FindProject(p) != nullptr; }});
    if (auto r = tokens_->Load(); !r) return r.error();
    auto secrets = SecretStore::Open(config_.data_dir + "/secrets", clock_);
    if (!secrets) return secrets.error();
    secrets_ = std::move(*secrets);
    fleet_ = std::make_unique<Fleet>(
        *store_, clock_,
        FleetOptions{config_.heartbeat_interval, config_.heartbeat_ttl, config_.subject_prefix});
    if (auto r = fleet_->Load(); !r) return r.error();
    // A commit that fails leaves the parts ahead of the database: the controller stops (exit
    // status 1) so that it starts again from what the database holds; agents send again what
    // was not acknowledged, and clients got no answer for what was lost.
    batch_ = std::make_unique<WriteBatch>(
        *store_, ioc_, std::chrono::milliseconds(5), [this](const Error& e) {
          spdlog::critical("controller cannot write its database ({}); stopping", e.message);
          exit_code_ = 1;
          asio::post(ioc_, [this] { Shutdown(); });
        });
    audit_ = std::make_unique<AuditTrail>(*store_, *batch_, clock_,
                                          AuditTrailOptions{.retention = config_.audit_retention});
    events_ = std::make_unique<EventFeed>(
        *store_, *batch_,
        EventFeedOptions{.max_unsent_bytes = static_cast<size_t>(config_.events_reader_buffer)});
    if (auto r = events_->Start(); !r) return r.error();
    audit_->Observe([this](const AuditRecord& r) { RecordAuditEvent(r); });
    followers_ = std::make_unique<TaskFollowers>(fleet_.get());
    backups_ = std::make_unique<ScheduledBackups>(
        ioc_, blocking_, clock_,
        ScheduledBackupsOptions{
            .database = config_.data_dir + "/controller.db",
            .dir = config_.backup_dir.empty() ? config_.data_dir + "/backups" : config_.backup_dir,
            .every = config_.backup_every,
            .keep = config_.backup_keep});
    return {};
  }

  Result<void> ConnectBus() {
    BusOptions bo;
    bo.url = config_.nats_url;
    bo.name = "autovibe-controller";
    bo.user = config_.nats_user;
    bo.password = config_.nats_password;
    bo.tls = config_.nats_tls;
    // The controller publishes thousands of commands and acks a second from its owner thread.
    bo.write_at_once = false;
    // The events stream is set up (or found) and consumed at every (re)connection.
    bo.on_connected = [this] {
      asio::post(ioc_, [this] {
        if (intake_) intake_->Start();
      });
    };
    auto bus = ConnectNats(std::move(bo));
    if (!bus) return bus.error();
    bus_ = std::move(*bus);
    return {};
  }

  // Machines that take work now, by id.
  std::vector<std::string> ReadyMachines() const {
    std::vector<std::string> ids;
    for (const MachineRecord* m : fleet_->List()) {
      if (m->state == MachineState::kReady || m->state == MachineState::kBusy) ids.push_back(m->id);
    }
    return ids;
  }

  // A secret's value, for the parts that hand it to an agent (repository credentials).
  std::optional<std::string> SecretValue(const std::string& name) const {
    auto v = secrets_->Get(name);
    if (!v) return std::nullopt;
    return std::move(*v);
  }

  // Each part gets what it uses, made before it.
  Result<void> MakeParts() {
    const std::string& prefix = config_.subject_prefix;
    checkpoint_agents_ =
        std::make_unique<NatsCheckpointAgents>(CheckpointAgentsDeps{&ioc_, bus_.get(), prefix});
    checkpoints_ = std::make_unique<CheckpointService>(
        CheckpointServiceDeps{&ioc_, checkpoint_agents_.get(), batch_.get(), fleet_.get(),
                              store_.get(), config_.checkpoint_replicas, audit_.get()});
    if (auto r = checkpoints_->Load(); !r) return r.error();
    task_commands_ = std::make_unique<NatsTaskCommands>(
        TaskCommandsDeps{&ioc_, bus_.get(), batch_.get(), checkpoints_.get(), prefix,
                         [this](const std::string& name) { return SecretValue(name); }});
    task_reactions_ = std::make_unique<TaskReactions>(*followers_, *fleet_);
    task_timings_ = std::make_unique<TaskTimings>(*task_reactions_);
    tasks_ = std::make_unique<TaskBook>(TaskBookDeps{store_.get(), &clock_, task_commands_.get(),
                                                     task_timings_.get(), &ioc_, batch_.get()},
                                        TaskBookOptions{});
    task_facts_ = std::make_unique<TaskBookFacts>(*tasks_);
    result_agents_ =
        std::make_unique<NatsResultAgents>(ResultAgentsDeps{&ioc_, bus_.get(), prefix});
    forge_ = MakeHttpForge();
    pull_requests_ = std::make_unique<PullRequestOpener>(ioc_, *forge_);
    results_ = std::make_unique<ResultKeeper>(ResultKeeperDeps{
        .ioc = &ioc_,
        .agents = result_agents_.get(),
        .book = tasks_.get(),
        .data_dir = config_.data_dir,
        .secret = [this](const std::string& name) { return SecretValue(name); },
        .max_result_bytes = static_cast<uint64_t>(config_.max_result_bytes),
        .pull_requests = pull_requests_.get(),
        .retention =
            std::chrono::duration_cast<std::chrono::milliseconds>(config_.result_retention),
        .now_ms = [this] { return clock_.NowMs(); },
        .ready_machines = [this] { return ReadyMachines(); },
        .audit = audit_.get()});
    task_reactions_->SetResults(results_.get());
    if (auto r = MakeBudgets(); !r) return r;
    task_reactions_->SetNotifier(notifier_.get());
    if (!config_.nats_auth_file.empty()) {
      nats_auth_ = std::make_unique<NatsAuth>(
          *store_, clock_,
          NatsAuthOptions{config_.nats_auth_file, config_.nats_pid_file, config_.nats_user,
                          config_.nats_password, prefix});
      JoinTokensOptions jo;
      for (const PoolConfig& p : config_.pools) jo.pool_labels[p.name] = p.labels;
      jo.registered = [this](const std::string& id) { return fleet_->Find(id) != nullptr; };
      jo.audit = audit_.get();
      join_tokens_ = std::make_unique<JoinTokens>(*store_, clock_, *nats_auth_, std::move(jo));
      if (auto r = join_tokens_->Load(); !r) return r.error();
    }
    machine_reactions_ = std::make_unique<MachineReactions>(MachineReactionsDeps{
        fleet_.get(), batch_.get(), tasks_.get(), budgets_.get(), checkpoints_.get(),
        task_facts_.get(), nats_auth_.get(), notifier_.get(), audit_.get()});
    // The task book learns the machines before its tasks, so placed tasks hold their slots.
    for (const MachineRecord* m : fleet_->List()) machine_reactions_->MachineChanged(*m);
    if (auto r = tasks_->Load(); !r) return r.error();
    results_->Start();
    // Results a restart interrupted: fetched and published from where they stopped.
    for (const TaskRecord* t : tasks_->List("", std::nullopt, std::numeric_limits<size_t>::max())) {
      results_->TaskChanged(*t);
      task_timings_->Loaded(*t);
    }
    // Projects whose budget ran out before a restart stay held.
    for (const ProjectRecord* p : tasks_->Projects()) {
      if (auto e = budgets_->ExhaustedBy(p->name)) {
        if (auto held = tasks_->BudgetExhausted(p->name, e->reason, e->pause); !held) {
          return held.error();
        }
      }
    }
    if (auto r = MakeMachines(); !r) return r;
    // With bus users on, answers go only to the asking machine's own inboxes.
    const bool own_inboxes_only = nats_auth_ != nullptr;
    registration_ = std::make_unique<Registration>(
        RegistrationDeps{&ioc_, bus_.get(), batch_.get(), fleet_.get(), &clock_, machines_.get(),
                         machine_reactions_.get(), own_inboxes_only});
    // The subject says which machine sends; it speaks only for what is placed on it.
    sender_rules_ = std::make_unique<SenderRules>(
        SenderRulesDeps{.tasks = bridge_.get(), .leases = budgets_.get(), .clock = &clock_});
    intake_ = std::make_unique<EventIntake>(EventIntakeDeps{&ioc_, bus_.get(), batch_.get(),
                                                            store_.get(), &blocking_, prefix,
                                                            sender_rules_.get(), &refusals_});
    leases_ = std::make_unique<LeaseService>(
        LeaseServiceDeps{&ioc_, bus_.get(), batch_.get(), budgets_.get(), prefix,
                         sender_rules_.get(), &refusals_, own_inboxes_only});
    if (auto r = registration_->Start(); !r) return r;
    if (auto r = leases_->Start(); !r) return r;
    if (join_tokens_) {
      joins_ = std::make_unique<JoinService>(
          JoinServiceDeps{&ioc_, bus_.get(), batch_.get(), join_tokens_.get(), prefix});
      if (auto r = joins_->Start(); !r) return r;
    }
    intake_->Start();
    return {};
  }

  // Signed notifications: webhook subscriptions, and deliveries a restart left pending.
  Result<void> MakeNotifier() {
    WebhookRules rules{
        .allow_http = config_.webhook_allow_http,
        .project_exists = [this](std::string_view p) { return tasks_->FindProject(p) != nullptr; }};
    notifier_ = std::make_unique<WebhookNotifier>(WebhookNotifierDeps{
        .ioc = &ioc_,
        .store = &store_->webhooks(),
        .batch = batch_.get(),
        .clock = &clock_,
        .ca_dir = config_.data_dir + "/webhook-cas",
        .rules = std::move(rules),
        .retry = {.attempts = config_.webhook_attempts,
                  .first_retry = std::chrono::duration_cast<std::chrono::milliseconds>(
                      config_.webhook_first_retry)}});
    if (auto r = notifier_->Load(); !r) return r.error();
    return notifier_->KeepConfigWebhook(config_.alert_webhook);
  }

  // Budgets, leases and the usage ledger; alerts to the log and to webhooks.
  Result<void> MakeBudgets() {
    bridge_ = std::make_unique<BudgetBridge>(*tasks_, audit_.get());
    if (auto r = MakeNotifier(); !r) return r;
    alert_notifier_ = std::make_unique<NotifyingAlertSink>(*notifier_);
    alert_log_ = std::make_unique<LogAlertSink>(alert_notifier_.get());
    audit_alerts_ = std::make_unique<AuditAlertSink>(*audit_, *alert_log_);
    alert_counter_ = std::make_unique<AlertCounter>(*audit_alerts_);
    budgets_ =
        std::make_unique<BudgetBook>(store_->budgets(), clock_, *bridge_, *bridge_, *alert_counter_,
                                     BudgetBookOptions{.lease_ttl = config_.lease_ttl});
    if (auto r = budgets_->Load(); !r) return r.error();
    return {};
  }

  // Pools of machines the controller makes and retires itself.
  Result<void> MakeMachines() {
    machine_agents_ = std::make_unique<NatsMachineAgents>(ioc_, *bus_, config_.subject_prefix);
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
    d.agents = machine_agents_.get();
    d.clock = &clock_;
    d.subject_prefix = config_.subject_prefix;
    d.nats_url = config_.agent_nats_url.empty() ? config_.nats_url : config_.agent_nats_url;
    auto agent_ca = AgentNatsCa(config_);
    if (!agent_ca) return agent_ca.error();
    d.nats_ca_pem = *agent_ca;
    d.open_batch = [this] { batch_->Open(); };
    d.audit = audit_.get();
    d.listener = machine_reactions_.get();
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
    if (nats_auth_) {
      d.credentials = [this](const MachineRecord& m) { return nats_auth_->Mint(m.id); };
      d.await_login = [](const AgentSettings& a) {
        return NatsAuth::AwaitLogin(a.nats_url, a.nats_user, a.nats_password,
                                    BusTls{.ca_pem = a.nats_ca_pem});
      };
    }
    machines_ =
        std::make_unique<MachineManager>(std::move(d), config_.pools, std::move(provisioners));
    machines_->Load();
    return {};
  }

  // Agents' events, each kind to the part that applies it.
  void RouteAgentEvents() {
    intake_->Route(AgentEventKind::kTaskStarted, [this](const AgentEvent& e) {
      return tasks_->ApplyStarted(e.machine_id, std::get<TaskStartedEvent>(e.what));
    });
    intake_->Route(AgentEventKind::kTaskLog, [this](const AgentEvent& e) {
      return tasks_->ApplyLog(e.machine_id, e.at_ms, std::get<TaskLogEvent>(e.what));
    });
    intake_->Route(AgentEventKind::kTaskFinished, [this](const AgentEvent& e) {
      const auto& f = std::get<TaskFinishedEvent>(e.what);
      auto r = tasks_->ApplyFinished(e.machine_id, f);
      if (r && f.outcome == TaskOutcome::kTimedOut) AuditTimedOut(f);
      return r;
    });
    // Charged at the controller's clock, so a late record never lands in a closed period.
    intake_->Route(AgentEventKind::kUsage, [this](const AgentEvent& e) {
      return budgets_->ApplyUsage(e.machine_id, clock_.NowMs(), std::get<UsageReport>(e.what),
                                  e.event_id);
    });
    intake_->Route(AgentEventKind::kCheckpointCreated, [this](const AgentEvent& e) -> Result<void> {
      const auto& created = std::get<CheckpointCreatedEvent>(e.what);
      const bool known = checkpoints_->Find(created.checkpoint.id) != nullptr;
      checkpoints_->ApplyCreated(e.machine_id, created, *task_facts_);
      if (!known) RecordCheckpointTaken(created.checkpoint.id);
      return {};
    });
    intake_->Route(
        AgentEventKind::kCheckpointsRemoved, [this](const AgentEvent& e) -> Result<void> {
          checkpoints_->ApplyRemoved(e.machine_id, std::get<CheckpointsRemovedEvent>(e.what));
          return {};
        });
    intake_->Route(AgentEventKind::kAgentStopping,
                   [this](const AgentEvent& e) { return registration_->AgentStopping(e); });
  }

  // An audit record that is also a state change goes to the events stream too; a
  // checkpoint's names its task's project, for the stream's scopes.
  void RecordAuditEvent(const AuditRecord& r) {
    auto e = EventOfAudit(r);
    if (!e) return;
    if (e->project.empty() && r.object_kind == "checkpoint" && checkpoints_) {
      if (const CheckpointRecord* c = checkpoints_->Find(r.object_id)) {
        e->project = ProjectOfTask(c->task_id);
      }
    }
    if (auto a = store_->AppendEvent(*e); !a) {
      spdlog::error("event {} not recorded: {}", e->kind, a.error().message);
    }
  }

  std::string ProjectOfTask(const std::string& task_id) const {
    const TaskRecord* t = tasks_ ? tasks_->Find(task_id) : nullptr;
    return t != nullptr ? t->project : "";
  }

  void RecordCheckpointTaken(const std::string& id) {
    const CheckpointRecord* c = checkpoints_->Find(id);
    if (c == nullptr) return;  // refused: the catalogue did not take it
    boost::json::object detail{
        {"object", c->id},       {"checkpoint", c->id}, {"parent", c->parent},
        {"trigger", c->trigger}, {"label", c->label},   {"workspace", c->workspace},
        {"files", c->files},     {"bytes", c->bytes},   {"stored_bytes", c->stored_bytes}};
    StoredEvent e{0,
                  clock_.NowMs(),
                  "checkpoint.taken",
                  c->machine_id,
                  boost::json::serialize(detail),
                  c->task_id,
                  ProjectOfTask(c->task_id)};
    batch_->Open();
    if (auto a = store_->AppendEvent(e); !a) {
      spdlog::error("event checkpoint.taken not recorded: {}", a.error().message);
    }
  }

  // The agent stopped a task at the timeout the controller gave it.
  void AuditTimedOut(const TaskFinishedEvent& f) {
    const TaskRecord* t = tasks_->Find(f.task_id);
    // A stale report (an earlier attempt's) changed nothing.
    if (t == nullptr || t->attempts != f.attempt || t->state != TaskState::kFailed) return;
    AuditRecord r = Decision("task_timeout", "task.stop", "task", f.task_id, t->project);
    r.details = DetailsJson({{"reason", f.reason}});
    audit_->Record(std::move(r));
  }

  // The API's connection caps, within the open-files limit (raised to the hard limit here):
  // the store, the bus, backups and provisioners keep kReservedFiles of it.
  static ConnectionLimits ApiConnectionLimits(const ControllerConfig& c) {
    constexpr uint64_t kReservedFiles = 256;
    const uint64_t files = RaiseOpenFileLimit();
    const uint64_t room = files > 2 * kReservedFiles ? files - kReservedFiles : files / 2;
    ConnectionLimits limits{
        .max_connections = static_cast<size_t>(
            std::min<uint64_t>(static_cast<uint64_t>(c.http_max_connections), room)),
        .max_per_client = static_cast<size_t>(c.http_max_connections_per_client)};
    if (limits.max_connections < static_cast<size_t>(c.http_max_connections)) {
      spdlog::warn(
          "the open-files limit ({}) allows {} API connections, not http_max_connections = {}",
          files, limits.max_connections, c.http_max_connections);
    }
    return limits;
  }

  Result<void> ServeApi() {
    auto hp = ParseHostPort(config_.listen);
    if (!hp) return hp.error();
    tasks_api_ = std::make_unique<TasksApi>(TasksApiDeps{
        tasks_.get(), fleet_.get(), followers_.get(), [this] { return batch_->Commit(); },
        [this](std::string_view id) { return checkpoints_->Find(id) != nullptr; },
        [this](std::string_view task) { return checkpoints_->Restoring(task); },
        [this](const std::string& task, const std::string& what) {
          return results_->FilePath(task, what);
        },
        config_.repo_local_roots,
        [this](const std::string& name) { return SecretValue(name).has_value(); }});
    budgets_api_ = std::make_unique<BudgetsApi>(BudgetsApiDeps{
        budgets_.get(),
        [this](std::string_view name) { return tasks_->FindProject(name) != nullptr; },
        [this] { return batch_->Commit(); }});
    archive_agents_ = std::make_unique<NatsArchiveAgents>(
        ArchiveAgentsDeps{&ioc_, bus_.get(), config_.subject_prefix});
    archives_ = std::make_unique<CheckpointArchives>(
        CheckpointArchivesDeps{checkpoints_.get(), fleet_.get(), archive_agents_.get()});
    checkpoints_api_ = std::make_unique<CheckpointsApi>(CheckpointsApiDeps{
        checkpoints_.get(), fleet_.get(), machines_.get(), task_facts_.get(), archives_.get()});
    machines_api_ = std::make_unique<MachinesApi>(
        MachinesApiDeps{fleet_.get(), machines_.get(), [this] { return batch_->Commit(); }});
    join_tokens_api_ = std::make_unique<JoinTokensApi>(
        JoinTokensApiDeps{join_tokens_.get(), [this] { return batch_->Commit(); }});
    ApiDeps ad{fleet_.get(),       &bus_->Stats(),         &registration_->heartbeat_lag(),
               admin_token_,       tasks_api_.get(),       tasks_.get(),
               budgets_api_.get(), checkpoints_api_.get(), machines_api_.get()};
    ad.refusals = &refusals_;
    ad.join_tokens_api = join_tokens_api_.get();
    secrets_api_ = std::make_unique<SecretsApi>(SecretsApiDeps{secrets_.get()});
    ad.secrets_api = secrets_api_.get();
    webhooks_api_ = std::make_unique<WebhooksApi>(
        WebhooksApiDeps{notifier_.get(), [this] { return batch_->Commit(); }});
    ad.webhooks_api = webhooks_api_.get();
    ad.insecure_bus = config_.insecure_bus;
    tokens_api_ = std::make_unique<TokensApi>(
        TokensApiDeps{tokens_.get(), &clock_, [this] { return batch_->Commit(); }});
    ad.tokens = tokens_.get();
    ad.tokens_api = tokens_api_.get();
    ad.checkpoints = checkpoints_.get();
    ad.machines = machines_.get();
    request_audit_ = std::make_unique<RequestAudit>(*audit_, [this] { return batch_->Commit(); });
    ad.request_audit = request_audit_.get();
    audit_api_ = std::make_unique<AuditApi>(AuditApiDeps{audit_.get(), &ioc_, &clock_});
    ad.audit_api = audit_api_.get();
    events_api_ = std::make_unique<EventsApi>(events_.get());
    ad.events_api = events_api_.get();
    ad.more_metrics = {.fleet = fleet_.get(),
                       .budgets = budgets_.get(),
                       .alerts = alert_counter_.get(),
                       .task_timings = task_timings_.get(),
                       .checkpoints = checkpoints_.get(),
                       .machines = machines_.get()};
    api_ = std::make_unique<Api>(std::move(ad));
    HttpServerOptions ho;
    ho.host = hp->first;
    ho.port = hp->second;
    ho.limits = ApiConnectionLimits(config_);
    ho.header_timeout = config_.http_header_timeout;
    ho.check_head = [this](const HttpRequest& head) { return api_->CheckHead(head); };
    auto tls = ApiTlsContext(config_, clock_.NowMs());
    if (!tls) return tls.error();
    ho.tls = *tls;
    auto server =
        StartHttpServer(ioc_, ho, [this](const HttpRequest& r) { return api_->Handle(r); });
    if (!server) return server.error();
    http_ = std::move(*server);
    spdlog::info("controller listening api={}://{}:{} nats={} data_dir={}",
                 ho.tls ? "https" : "http", ho.host, http_->port(), config_.nats_url,
                 config_.data_dir);
    return {};
  }

  // Once a second: assignments nobody confirmed go back to the queue, periods and cool-downs
  // end, pools grow and shrink, agents hear their pins now and then, and a scheduling pass
  // runs in case a change slipped past the parts that ask for one.
  void ScheduleTick() {
    tick_timer_.expires_after(kTickEvery);
    tick_timer_.async_wait([this](boost::system::error_code ec) {
      if (ec || stopping_) return;
      batch_->Open();
      if (auto r = tasks_->Tick(); !r) spdlog::error("tasks tick: {}", r.error().message);
      budgets_->Tick();
      if (ticks_++ % kPinEveryTicks == 0) checkpoints_->SyncPins(*task_facts_);
      machines_->Tick();
      if (join_tokens_) join_tokens_->Tick();
      audit_->Tick();
      intake_->Start();  // retried until the stream is consumed
      intake_->ForgetOldEvents(clock_.NowMs());
      tasks_->RequestSchedule();
      ScheduleTick();
    });
  }

  void StopParts() {
    if (registration_) registration_->Stop();
    if (machines_) machines_->Stop();
    if (leases_) leases_->Stop();
    if (joins_) joins_->Stop();
    if (intake_) intake_->Stop();
    if (task_commands_) task_commands_->Stop();
    if (pull_requests_) pull_requests_->Stop();
    if (tasks_) tasks_->Stop();
    if (checkpoints_) checkpoints_->Stop();
    if (notifier_) notifier_->Stop();
  }

  // Said at every start (the log is stderr), so nobody runs an open bus unawares.
  static void WarnInsecureBus() {
    constexpr const char* kLines[] = {
        "INSECURE BUS: --insecure-bus is set; nats-server has no users.",
        "Anyone who reaches nats-server reads every command and runs tasks on every agent.",
        "Give the controller nats_auth_file and nats_pid_file to give each machine its own user."};
    for (const char* line : kLines) spdlog::warn("{}", line);
  }

  void Shutdown() {
    if (stopping_) return;
    stopping_ = true;
    if (http_) http_->Stop();
    tick_timer_.cancel();
    if (backups_) backups_->Stop();
    // Commit first: what waits for the commit (acks of consumed events, commands) still has
    // its subscription and bus.
    if (batch_) (void)batch_->Commit();
    StopParts();
    signals_.cancel();
    ioc_.stop();
  }

  ControllerConfig config_;
  std::optional<DataDirLock> lock_;  // held while this controller runs on its data dir
  asio::io_context ioc_{1};
  // Blocking work (setting up the events stream, backups) runs here and posts results back.
  asio::thread_pool blocking_{1};
  asio::signal_set signals_;
  asio::steady_timer tick_timer_;
  SystemClock clock_;
  std::string admin_token_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<TokenBook> tokens_;  // API tokens beside the bootstrap admin token
  std::unique_ptr<Fleet> fleet_;
  std::unique_ptr<WriteBatch> batch_;
  std::unique_ptr<AuditTrail> audit_;  // every part that decides or changes writes here
  std::unique_ptr<EventFeed> events_;  // GET /v1/events
  std::unique_ptr<TaskFollowers> followers_;
  std::unique_ptr<ScheduledBackups> backups_;
  std::unique_ptr<Bus> bus_;
  std::unique_ptr<NatsCheckpointAgents> checkpoint_agents_;  // outlives the service's transfers
  std::unique_ptr<CheckpointService> checkpoints_;
  std::unique_ptr<NatsTaskCommands> task_commands_;
  std::unique_ptr<NatsResultAgents> result_agents_;
  std::unique_ptr<Forge> forge_;
  std::unique_ptr<PullRequestOpener> pull_requests_;  // after forge_: gone before it
  std::unique_ptr<ResultKeeper> results_;             // outlives task_reactions_, which calls it
  std::unique_ptr<TaskReactions> task_reactions_;
  std::unique_ptr<TaskTimings> task_timings_;  // between the task book and its reactions
  std::unique_ptr<TaskBook> tasks_;
  std::unique_ptr<TaskBookFacts> task_facts_;
  std::unique_ptr<BudgetBridge> bridge_;
  std::unique_ptr<WebhookNotifier> notifier_;
  std::unique_ptr<NotifyingAlertSink> alert_notifier_;
  std::unique_ptr<LogAlertSink> alert_log_;
  std::unique_ptr<AuditAlertSink> audit_alerts_;
  std::unique_ptr<AlertCounter> alert_counter_;  // counts alerts, then audit_alerts_
  std::unique_ptr<BudgetBook> budgets_;
  std::unique_ptr<NatsAuth> nats_auth_;
  std::unique_ptr<JoinTokens> join_tokens_;  // null with an insecure bus
  std::unique_ptr<JoinService> joins_;
  std::unique_ptr<MachineReactions> machine_reactions_;
  std::unique_ptr<NatsMachineAgents> machine_agents_;
  std::unique_ptr<MachineManager> machines_;
  std::unique_ptr<Registration> registration_;
  Refusals refusals_;  // what agents said and had no right to
  std::unique_ptr<SenderRules> sender_rules_;
  std::unique_ptr<EventIntake> intake_;
  std::unique_ptr<LeaseService> leases_;
  std::unique_ptr<TasksApi> tasks_api_;
  std::unique_ptr<BudgetsApi> budgets_api_;
  std::unique_ptr<NatsArchiveAgents> archive_agents_;
  std::unique_ptr<CheckpointArchives> archives_;
  std::unique_ptr<CheckpointsApi> checkpoints_api_;
  std::unique_ptr<MachinesApi> machines_api_;
  std::unique_ptr<JoinTokensApi> join_tokens_api_;
  std::unique_ptr<SecretStore> secrets_;  // <data-dir>/secrets
  std::unique_ptr<SecretsApi> secrets_api_;
  std::unique_ptr<TokensApi> tokens_api_;
  std::unique_ptr<WebhooksApi> webhooks_api_;
  std::unique_ptr<RequestAudit> request_audit_;
  std::unique_ptr<AuditApi> audit_api_;
  std::unique_ptr<EventsApi> events_api_;
  std::unique_ptr<Api> api_;
  std::unique_ptr<HttpServer> http_;
  uint64_t ticks_ = 0;
  int exit_code_ = 0;
  bool stopping_ = false;
};

}  // namespace

Result<std::unique_ptr<Controller>> CreateController(const ControllerConfig& config) {
  auto c = std::make_unique<ControllerImpl>(config);
  if (auto r = c->Init(); !r) return r.error();
  return std::unique_ptr<Controller>(std::move(c));
}

}  // namespace autovibe
