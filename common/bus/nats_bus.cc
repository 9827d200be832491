// Bus on NATS.c. The connection reconnects forever with capped exponential backoff; NATS.c
// re-creates subscriptions after a reconnect by itself.
#include <nats/nats.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <mutex>
#include <random>
#include <thread>

#include "common/bus/bus.h"
#include "common/bus/nats_replies.h"
#include "common/bus/nats_tls.h"

namespace autovibe {
namespace {

// How long a first contact that the server broke off is tried again before it counts.
constexpr Duration kFirstContactRetry = std::chrono::seconds(5);

Error NatsError(std::string_view what, natsStatus s) {
  ErrorCode code = ErrorCode::kUnavailable;
  if (s == NATS_TIMEOUT) code = ErrorCode::kTimeout;
  if (s == NATS_NO_RESPONDERS) code = ErrorCode::kNoResponders;
  if (s == NATS_NOT_FOUND) code = ErrorCode::kNotFound;
  if (s == NATS_CONNECTION_AUTH_FAILED) code = ErrorCode::kUnauthorized;
  return MakeError(code, std::string(what) + ": " + natsStatus_GetText(s));
}

int64_t Nanos(Duration d) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(d).count();
}

// State shared by a subscription and NATS.c's delivery thread. Deleted by the on-complete
// callback, which NATS.c runs after the last delivery, so the handler never outlives it.
struct SubState {
  std::string what;
  size_t max_bytes;
  Bus::Handler handler;
  BusStats* stats;
  // Held while the handler runs; the subscription's destructor takes it to clear `active`,
  // so once the destructor returns no handler is running or will run. Recursive so that a
  // handler may drop its own subscription.
  std::recursive_mutex mu;
  bool active = true;
};

void OnMessage(natsConnection*, natsSubscription*, natsMsg* msg, void* closure) {
  auto* st = static_cast<SubState*>(closure);
  const int len = natsMsg_GetDataLength(msg);
  std::lock_guard lock(st->mu);
  if (st->active) {
    if (static_cast<size_t>(len) > st->max_bytes) {
      st->stats->Reject(st->what, "oversized", natsMsg_GetSubject(msg), static_cast<size_t>(len));
    } else {
      const char* reply = natsMsg_GetReply(msg);
      BusMessage m{natsMsg_GetSubject(msg), reply ? reply : "",
                   std::string(natsMsg_GetData(msg), static_cast<size_t>(len))};
      st->handler(std::move(m));
    }
  }
  natsMsg_Destroy(msg);
}

void OnSubComplete(void* closure) { delete static_cast<SubState*>(closure); }

class NatsSubscription final : public Subscription {
 public:
  NatsSubscription(natsSubscription* sub, SubState* st) : sub_(sub), st_(st) {}
  ~NatsSubscription() override {
    {
      std::lock_guard lock(st_->mu);
      st_->active = false;
    }
    natsSubscription_Unsubscribe(sub_);
    natsSubscription_Destroy(sub_);
  }

 private:
  natsSubscription* sub_;
  SubState* st_;  // owned by NATS.c's on-complete callback
};

// A durable pull consumer served by one fetch thread.
class StreamConsumer final : public Subscription {
 public:
  StreamConsumer(natsSubscription* sub, std::string what, size_t max_bytes,
                 Bus::StreamHandler handler, BusStats* stats)
      : sub_(sub),
        what_(std::move(what)),
        max_bytes_(max_bytes),
        handler_(std::move(handler)),
        stats_(stats) {
    thread_ = std::thread([this] { Run(); });
  }
  ~StreamConsumer() override {
    stop_.store(true);
    thread_.join();
    {
      // An ack called after this is a no-op (the message comes again), never a use of the
      // destroyed subscription.
      std::lock_guard lock(gate_->mu);
      gate_->open = false;
    }
    natsSubscription_Destroy(sub_);
  }

 private:
  void Run() {
    while (!stop_.load()) {
      natsMsgList list{};
      // A short fetch wait bounds how long a stop takes.
      natsStatus s = natsSubscription_Fetch(&list, sub_, 256, 500, nullptr);
      if (s == NATS_TIMEOUT) continue;
      if (s != NATS_OK) {
        // Disconnected or the server restarting: back off briefly and try again.
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
        continue;
      }
      for (int i = 0; i < list.Count; ++i) {
        natsMsg* raw = list.Msgs[i];
        list.Msgs[i] = nullptr;  // ownership moves to `msg`
        std::shared_ptr<natsMsg> msg(raw, natsMsg_Destroy);
        const int len = natsMsg_GetDataLength(raw);
        if (static_cast<size_t>(len) > max_bytes_) {
          stats_->Reject(what_, "oversized", natsMsg_GetSubject(raw), static_cast<size_t>(len));
          natsMsg_Term(raw, nullptr);  // never redeliver what we will never accept
          continue;
        }
        BusMessage m{natsMsg_GetSubject(raw), "",
                     std::string(natsMsg_GetData(raw), static_cast<size_t>(len))};
        handler_(std::move(m), [msg, gate = gate_] {
          std::lock_guard lock(gate->mu);
          if (gate->open) natsMsg_Ack(msg.get(), nullptr);
        });
      }
      natsMsgList_Destroy(&list);
    }
  }

  natsSubscription* sub_;
  std::string what_;
  size_t max_bytes_;
  Bus::StreamHandler handler_;
  BusStats* stats_;
  struct AckGate {
    std::mutex mu;
    bool open = true;
  };
  std::shared_ptr<AckGate> gate_ = std::make_shared<AckGate>();
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// What NATS.c's connection callbacks touch. NATS.c may run them after natsConnection_Close
// returns, so this outlives the bus and is deleted by the closed callback, the last one.
struct ConnState {
  explicit ConnState(BusOptions o) : options(std::move(o)) {}
  BusOptions options;
  std::mutex mu;       // held while a user callback runs, so none runs after the bus is gone
  bool active = true;  // guarded by mu
  std::atomic<bool> connected{false};
  std::atomic<bool> ever_connected{false};
  // Why a try failed, as last logged, and tries since (guarded by mu).
  std::string last_reason;
  int tries_since_logged = 0;
};

class NatsBus final : public Bus {
 public:
  explicit NatsBus(BusOptions options) : st_(new ConnState(std::move(options))) {}

  ~NatsBus() override {
    replies_.reset();
    {
      std::lock_guard lock(st_->mu);
      st_->active = false;
    }
    if (js_ != nullptr) jsCtx_Destroy(js_);
    if (nc_ != nullptr) {
      natsConnection_Close(nc_);
      natsConnection_Destroy(nc_);
    } else {
      delete st_;  // never connected: no callback will come
    }
  }

  Result<void> Connect() {
    natsOptions* opts = nullptr;
    natsStatus s = natsOptions_Create(&opts);
    if (s != NATS_OK) return NatsError("nats options", s);
    std::unique_ptr<natsOptions, decltype(&natsOptions_Destroy)> guard(opts, natsOptions_Destroy);
    if ((s = natsOptions_SetURL(opts, st_->options.url.c_str())) != NATS_OK) {
      return MakeError(ErrorCode::kBadConfig,
                       "bad NATS url \"" + st_->options.url + "\": " + natsStatus_GetText(s));
    }
    if (auto r = ApplyTls(opts, st_->options.url, st_->options.tls); !r) return r;
    if (!st_->options.name.empty()) natsOptions_SetName(opts, st_->options.name.c_str());
    if (!st_->options.user.empty()) {
      natsOptions_SetUserInfo(opts, st_->options.user.c_str(), st_->options.password.c_str());
    }
    if (!st_->options.inbox_prefix.empty() &&
        (s = natsOptions_SetCustomInboxPrefix(opts, st_->options.inbox_prefix.c_str())) !=
            NATS_OK) {
      return MakeError(ErrorCode::kBadConfig, "bad inbox prefix \"" + st_->options.inbox_prefix +
                                                  "\": " + natsStatus_GetText(s));
    }
    natsOptions_SetSendAsap(opts, st_->options.write_at_once);
    natsOptions_SetMaxReconnect(opts, -1);
    natsOptions_SetCustomReconnectDelay(opts, &NatsBus::ReconnectDelay, st_);
    natsOptions_SetReconnectBufSize(opts, 8 * 1024 * 1024);
    natsOptions_SetReconnectedCB(opts, &NatsBus::OnConnected, st_);
    natsOptions_SetDisconnectedCB(opts, &NatsBus::OnDisconnected, st_);
    natsOptions_SetClosedCB(opts, &NatsBus::OnClosed, st_);
    natsOptions_SetErrorHandler(opts, &NatsBus::OnAsyncError, nullptr);
    // The first contact is tried once in the foreground. NATS.c 3.4 gives up for good when
    // the first contact of its background retry fails after the TCP connect (a certificate it
    // does not trust, a refused login): that retry is left no server to try. So a server that
    // answers and refuses is an error now; only one that cannot be reached yet is left to the
    // background retry, which then handles any failure by trying again.
    // A server that broke off mid-handshake (it was reloading its users, say) is tried again
    // in the foreground for a while: only a refusal is final.
    const auto give_up = std::chrono::steady_clock::now() + kFirstContactRetry;
    Duration pause = std::chrono::milliseconds(50);
    for (;;) {
      s = natsConnection_Connect(&nc_, opts);
      if (s == NATS_OK || s == NATS_NO_SERVER) break;
      Error e = ConnectError("connect to " + st_->options.url, st_->options.url, s, LastNatsError(),
                             st_->options.tls);
      // Over TLS a server that hangs up after the handshake may be refusing a client
      // certificate, or just reloading: both are tried again, a refusal stays one.
      const bool broken_off = e.code == ErrorCode::kUnavailable || e.code == ErrorCode::kTimeout ||
                              (e.code == ErrorCode::kTls && s == NATS_PROTOCOL_ERROR);
      if (!broken_off || std::chrono::steady_clock::now() >= give_up) return e;
      spdlog::warn("bus broke off the first contact, trying again url={}: {}", st_->options.url,
                   e.message);
      std::this_thread::sleep_for(pause);
      pause = std::min<Duration>(pause * 2, std::chrono::seconds(1));
    }
    if (s != NATS_OK) {
      Error e = ConnectError("connect to " + st_->options.url, st_->options.url, s, LastNatsError(),
                             st_->options.tls);
      spdlog::warn("bus not connected yet, retrying in the background url={}: {}", st_->options.url,
                   e.message);
      st_->last_reason = e.message;
      natsOptions_SetRetryOnFailedConnect(opts, true, &NatsBus::OnConnected, st_);
      s = natsConnection_Connect(&nc_, opts);
    }
    if (s == NATS_OK) {
      OnConnected(nc_, st_);
    } else if (s != NATS_NOT_YET_CONNECTED) {
      return ConnectError("connect to " + st_->options.url, st_->options.url, s, LastNatsError(),
                          st_->options.tls);
    }
    jsOptions jo;
    jsOptions_Init(&jo);
    jo.Wait = 5000;
    if ((s = natsConnection_JetStream(&js_, nc_, &jo)) != NATS_OK) {
      return NatsError("jetstream context", s);
    }
    auto replies = NatsReplies::Start(nc_, st_->options.inbox_prefix);
    if (!replies) return replies.error();
    replies_ = std::move(*replies);
    return {};
  }

  // Bus
  Result<void> Publish(std::string_view subject, std::string_view data) override {
    natsStatus s = natsConnection_Publish(nc_, std::string(subject).c_str(), data.data(),
                                          static_cast<int>(data.size()));
    if (s != NATS_OK) return NatsError("publish " + std::string(subject), s);
    return {};
  }

  Result<std::unique_ptr<Subscription>> Subscribe(std::string subject, std::string what,
                                                  size_t max_bytes, Handler handler) override {
    auto* st = new SubState{std::move(what), max_bytes, std::move(handler), &stats_, {}, true};
    natsSubscription* sub = nullptr;
    natsStatus s = natsConnection_Subscribe(&sub, nc_, subject.c_str(), &OnMessage, st);
    if (s != NATS_OK) {
      delete st;
      return NatsError("subscribe " + subject, s);
    }
    natsSubscription_SetOnCompleteCB(sub, &OnSubComplete, st);
    // Generous pending limits: a burst of heartbeats must queue, not be dropped as slow.
    natsSubscription_SetPendingLimits(sub, 1'000'000, 512 * 1024 * 1024);
    // Round-trip to the server so the interest is registered when Subscribe returns. While
    // disconnected there is no one to ask (a flush would wait out its timeout); NATS.c
    // re-subscribes on reconnect.
    if (st_->connected) natsConnection_FlushTimeout(nc_, 2000);
    return std::unique_ptr<Subscription>(new NatsSubscription(sub, st));
  }

  Result<std::string> Request(std::string_view subject, std::string_view data,
                              Duration timeout) override {
    natsMsg* reply = nullptr;
    natsStatus s = natsConnection_Request(&reply, nc_, std::string(subject).c_str(), data.data(),
                                          static_cast<int>(data.size()), timeout.count());
    if (s != NATS_OK) return NatsError("request " + std::string(subject), s);
    std::string out(natsMsg_GetData(reply), static_cast<size_t>(natsMsg_GetDataLength(reply)));
    natsMsg_Destroy(reply);
    return out;
  }

  void RequestAsync(std::string_view subject, std::string_view data, Duration timeout,
                    ReplyHandler done) override {
    replies_->Send(subject, data, timeout, std::move(done));
  }

  Result<void> EnsureStream(const StreamConfig& config) override {
    jsStreamInfo* si = nullptr;
    jsErrCode jerr = static_cast<jsErrCode>(0);
    natsStatus s = js_GetStreamInfo(&si, js_, config.name.c_str(), nullptr, &jerr);
    if (s == NATS_OK) {
      jsStreamInfo_Destroy(si);
      return {};
    }
    if (s != NATS_NOT_FOUND) return NatsError("stream info " + config.name, s);
    jsStreamConfig cfg;
    jsStreamConfig_Init(&cfg);
    cfg.Name = config.name.c_str();
    std::vector<const char*> subjects;
    for (const auto& subj : config.subjects) subjects.push_back(subj.c_str());
    cfg.Subjects = subjects.data();
    cfg.SubjectsLen = static_cast<int>(subjects.size());
    cfg.Storage = js_FileStorage;
    cfg.Duplicates = Nanos(config.duplicate_window);
    cfg.MaxAge = Nanos(config.max_age);
    s = js_AddStream(&si, js_, &cfg, nullptr, &jerr);
    if (s != NATS_OK) return NatsError("add stream " + config.name, s);
    jsStreamInfo_Destroy(si);
    spdlog::info("bus stream created name={}", config.name);
    return {};
  }

  Result<PublishAck> StreamPublish(std::string_view subject, std::string_view data,
                                   std::string_view msg_id, Duration timeout) override {
    jsPubOptions po;
    jsPubOptions_Init(&po);
    const std::string id(msg_id);
    po.MsgId = id.c_str();
    po.MaxWait = timeout.count();
    jsPubAck* ack = nullptr;
    jsErrCode jerr = static_cast<jsErrCode>(0);
    natsStatus s = js_Publish(&ack, js_, std::string(subject).c_str(), data.data(),
                              static_cast<int>(data.size()), &po, &jerr);
    if (s != NATS_OK) return NatsError("stream publish " + std::string(subject), s);
    PublishAck out{ack->Sequence, ack->Duplicate};
    jsPubAck_Destroy(ack);
    return out;
  }

  Result<std::unique_ptr<Subscription>> ConsumeStream(std::string stream, std::string durable,
                                                      std::string filter_subject, size_t max_bytes,
                                                      StreamHandler handler) override {
    jsSubOptions so;
    jsSubOptions_Init(&so);
    so.Stream = stream.c_str();
    so.Config.AckPolicy = js_AckExplicit;
    so.Config.DeliverPolicy = js_DeliverAll;
    // Short enough that events a crashed consumer held come again soon after its restart;
    // handlers dedupe by event id, so an early redelivery costs nothing but work.
    so.Config.AckWait = Nanos(std::chrono::seconds(10));
    // Acks follow the consumer's commit, a few ms later: a busy fleet's events must not stall
    // behind the server's default of 1,000 unacknowledged messages.
    so.Config.MaxAckPending = 20000;
    natsSubscription* sub = nullptr;
    jsErrCode jerr = static_cast<jsErrCode>(0);
    natsStatus s =
        js_PullSubscribe(&sub, js_, filter_subject.c_str(), durable.c_str(), nullptr, &so, &jerr);
    if (s != NATS_OK) return NatsError("consume " + stream + "/" + durable, s);
    return std::unique_ptr<Subscription>(
        new StreamConsumer(sub, durable, max_bytes, std::move(handler), &stats_));
  }

  bool Connected() const override { return st_->connected.load(); }

  BusStats& Stats() override { return stats_; }

 private:
  // Runs on NATS.c's reconnect thread before each try; NATS.c joins that thread before the
  // closed callback deletes `closure`.
  static int64_t ReconnectDelay(natsConnection*, int attempts, void* closure) {
    LogWhyNotConnected(*static_cast<ConnState*>(closure), attempts);
    // 100 ms doubling to a 2 s cap, plus up to 25% jitter so a fleet does not reconnect in step.
    int64_t base = std::min<int64_t>(2000, int64_t{100} << std::min(attempts, 5));
    thread_local std::minstd_rand rng(std::random_device{}());
    return base + static_cast<int64_t>(rng() % (base / 4 + 1));
  }

  // The previous try's failure is NATS.c's last error on this (the reconnect) thread. Logged
  // when it changes and every 30th try (about a minute at the 2 s cap): a server that refuses
  // this client's certificate check says so, and keeps saying so, without a line per try.
  static void LogWhyNotConnected(ConnState& st, int attempts) {
    if (attempts <= 1) return;  // nothing tried yet on this thread
    natsStatus s = NATS_OK;
    nats_GetLastError(&s);
    std::string detail = LastNatsError();
    if (detail.empty()) detail = "not reachable";
    const std::string reason =
        ConnectError("connect to " + st.options.url, st.options.url, s, detail, st.options.tls)
            .message;
    std::lock_guard lock(st.mu);
    if (reason == st.last_reason && ++st.tries_since_logged < 30) return;
    st.last_reason = reason;
    st.tries_since_logged = 0;
    spdlog::warn("bus not connected, retrying: {}", reason);
  }

  static void OnConnected(natsConnection*, void* closure) {
    auto* st = static_cast<ConnState*>(closure);
    std::lock_guard lock(st->mu);
    if (!st->active) return;
    st->connected = true;
    st->ever_connected = true;
    st->last_reason.clear();
    spdlog::info("bus connected url={}", st->options.url);
    if (st->options.on_connected) st->options.on_connected();
  }

  static void OnDisconnected(natsConnection*, void* closure) {
    auto* st = static_cast<ConnState*>(closure);
    std::lock_guard lock(st->mu);
    if (!st->connected.exchange(false) || !st->active) return;
    spdlog::warn("bus disconnected url={}", st->options.url);
    if (st->options.on_disconnected) st->options.on_disconnected();
  }

  static void OnClosed(natsConnection*, void* closure) {
    auto* st = static_cast<ConnState*>(closure);
    {
      std::lock_guard lock(st->mu);
      // NATS.c's first background try was refused (the server came up between our first
      // contact and it): it gives up for good. Say so; a restart tries again.
      if (st->active && !st->ever_connected) {
        spdlog::error(
            "bus gave up: the server refused this client at its first contact url={}; "
            "restart to try again",
            st->options.url);
      }
    }
    delete st;
  }

  static void OnAsyncError(natsConnection*, natsSubscription*, natsStatus err, void*) {
    spdlog::warn("bus async error: {}", natsStatus_GetText(err));
  }

  ConnState* st_;  // see ConnState
  natsConnection* nc_ = nullptr;
  jsCtx* js_ = nullptr;
  std::unique_ptr<NatsReplies> replies_;
  BusStats stats_;
};

}  // namespace

Result<std::unique_ptr<Bus>> ConnectNats(BusOptions options) {
  auto bus = std::make_unique<NatsBus>(std::move(options));
  if (auto r = bus->Connect(); !r) return r.error();
  return std::unique_ptr<Bus>(std::move(bus));
}

Result<void> CheckNatsLogin(const std::string& url, const std::string& user,
                            const std::string& password, Duration timeout, const BusTls& tls) {
  natsOptions* opts = nullptr;
  natsStatus s = natsOptions_Create(&opts);
  if (s != NATS_OK) return NatsError("nats options", s);
  std::unique_ptr<natsOptions, decltype(&natsOptions_Destroy)> guard(opts, natsOptions_Destroy);
  if ((s = natsOptions_SetURL(opts, url.c_str())) != NATS_OK) {
    return MakeError(ErrorCode::kBadConfig,
                     "bad NATS url \"" + url + "\": " + natsStatus_GetText(s));
  }
  if (auto r = ApplyTls(opts, url, tls); !r) return r;
  natsOptions_SetUserInfo(opts, user.c_str(), password.c_str());
  natsOptions_SetAllowReconnect(opts, false);
  natsOptions_SetTimeout(opts, static_cast<int64_t>(timeout.count()));
  natsConnection* nc = nullptr;
  s = natsConnection_Connect(&nc, opts);
  if (nc != nullptr) natsConnection_Destroy(nc);
  if (s != NATS_OK) {
    return ConnectError("log in to " + url + (user.empty() ? "" : " as " + user), url, s,
                        LastNatsError(), tls);
  }
  return {};
}

void AwaitTrustedBus(const BusOptions& options) {
  std::string said;
  auto said_at = std::chrono::steady_clock::now();
  Duration backoff = std::chrono::milliseconds(250);
  for (;;) {
    auto r = CheckNatsLogin(options.url, options.user, options.password, std::chrono::seconds(5),
                            options.tls);
    if (r || r.error().code != ErrorCode::kTls) return;
    const auto now = std::chrono::steady_clock::now();
    if (r.error().message != said || now - said_at >= std::chrono::minutes(1)) {
      spdlog::error("the bus refuses this client's TLS check, retrying: {}", r.error().message);
      said = r.error().message;
      said_at = now;
    }
    std::this_thread::sleep_for(backoff);
    backoff = std::min<Duration>(backoff * 2, std::chrono::seconds(5));
  }
}

void ShutdownNatsLibrary() { nats_CloseAndWait(2000); }

}  // namespace autovibe
