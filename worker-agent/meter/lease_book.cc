#include "worker-agent/meter/lease_book.h"

#include <spdlog/spdlog.h>

#include "common/budget/usage.h"
#include "common/core/ids.h"
#include "common/wire/amounts.h"

namespace autovibe::meter {
namespace {

using SteadyClock = std::chrono::steady_clock;

template <class D>
int64_t Ms(D d) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
}

// What a record takes from the lease, by the rule the controller settles it with: the
// `consumed` this book reports must match the controller's sum of the same records, or the
// controller keeps the difference reserved.
Amounts Actual(const v1::UsageRecord& r) {
  return SpentBy({.kind = r.kind(),
                  .status = r.status(),
                  .input_tokens = r.input_tokens(),
                  .output_tokens = r.output_tokens(),
                  .cache_write_tokens = r.cache_write_tokens(),
                  .cache_read_tokens = r.cache_read_tokens(),
                  .cost_micros = r.cost_micros(),
                  .task_ms = r.task_ms(),
                  .machine_ms = r.machine_ms()});
}

// `a` scaled by num/den, each resource rounded up.
Amounts Scaled(const Amounts& a, int64_t num, int64_t den) {
  Amounts out;
  for (BudgetResource r : kAllBudgetResources) {
    if (a[r] > 0)
      out[r] = static_cast<int64_t>((static_cast<__int128>(a[r]) * num + den - 1) / den);
  }
  return out;
}

// The calls in flight a lease request lists (v1::LeaseRequest::held).
constexpr int kMaxHeldListed = 200;

Amounts Half(const Amounts& a) {
  Amounts out;
  for (BudgetResource r : kAllBudgetResources) out[r] = a[r] / 2;
  return out;
}

}  // namespace

struct LeaseBook::TaskLease {
  MeteredTask task;
  std::string token;
  std::string lease_id;
  Amounts granted;       // by the controller, in total
  Amounts recorded;      // in usage records sent: what the controller hears as consumed
  Amounts held;          // by calls in flight
  Amounts queued;        // by calls waiting for a top-up: the least each can go with
  Amounts queued_worst;  // and their worst cases
  Amounts low_water;     // below it the lease is topped up ahead of need: half the last extra
  Amounts pace_mark;     // `recorded` when the pace was last measured, and when
  SteadyClock::time_point pace_since = SteadyClock::now();
  std::deque<Waiter> waiters;
  int64_t pending_time_ms = 0;        // tool time charged, not yet in a record
  SteadyClock::time_point expires{};  // epoch: nothing granted yet
  Duration ttl{0};
  SteadyClock::time_point last_ask{};
  SteadyClock::time_point last_charge = SteadyClock::now();
  SteadyClock::time_point last_record = SteadyClock::now();
  bool asking = false;
  bool ask_again = false;
  bool unlisted_holds = false;  // calls held since the last request (which lists them)
  uint64_t asks_sent = 0;       // lease requests sent, numbered from 1
  uint64_t asks_answered = 0;   // the newest of them the controller answered
  bool ended = false;           // the tool is gone: close once nothing is held
  bool exhausted = false;
  std::string exhausted_message;
};

LeaseBook::LeaseBook(boost::asio::io_context& ioc, LeaseChannel& channel, UsageSink& sink,
                     LeaseBookOptions options, OnExhausted on_exhausted)
    : ioc_(ioc),
      channel_(channel),
      sink_(sink),
      options_(std::move(options)),
      on_exhausted_(std::move(on_exhausted)),
      tick_timer_(ioc) {
  ScheduleTick();
}

LeaseBook::~LeaseBook() {
  *alive_ = false;
  tick_timer_.cancel();
}

void LeaseBook::TaskStarted(const MeteredTask& task, const std::string& token) {
  if (tasks_.count(task.task_id) > 0) TaskEnded(task.task_id);  // a newer attempt replaces it
  auto t = std::make_unique<TaskLease>();
  t->task = task;
  t->token = token;
  t->lease_id = NewId("l");
  t->ttl = options_.default_ttl;
  t->low_water = Half(options_.chunk);
  tasks_[task.task_id] = t.get();
  tokens_[token] = t.get();
  TaskLease& lease = *t;
  leases_[t->lease_id] = std::move(t);
  Ask(lease, false);  // the first call should find the lease there
}

void LeaseBook::TaskEnded(const std::string& task_id) {
  auto it = tasks_.find(task_id);
  if (it == tasks_.end()) return;
  TaskLease& t = *it->second;
  tasks_.erase(it);
  tokens_.erase(t.token);
  t.ended = true;
  ChargeTime(t, /*final=*/true);
  FailWaiters(t, MakeError(ErrorCode::kNotFound, "the task has ended"));
  MaybeClose(t);
}

Amounts LeaseBook::Granted(const std::string& task_id) const {
  auto it = tasks_.find(task_id);
  return it == tasks_.end() ? Amounts{} : it->second->granted;
}

Amounts LeaseBook::Consumed(const std::string& task_id) const {
  auto it = tasks_.find(task_id);
  return it == tasks_.end() ? Amounts{} : it->second->recorded;
}

std::optional<MeteredTask> LeaseBook::TaskForToken(std::string_view token) {
  auto it = tokens_.find(std::string(token));
  if (it == tokens_.end()) return std::nullopt;
  return it->second->task;
}

LeaseBook::TaskLease* LeaseBook::Find(const std::string& task_id) {
  auto it = tasks_.find(task_id);
  return it == tasks_.end() ? nullptr : it->second;
}

bool LeaseBook::Live(const TaskLease& t) const {
  return t.expires != SteadyClock::time_point{} && SteadyClock::now() < t.expires;
}

Amounts LeaseBook::Available(const TaskLease& t) const {
  if (!Live(t)) return Amounts{};
  Amounts used = t.recorded + t.held + t.queued;
  used.task_ms += t.pending_time_ms;
  used.machine_ms += t.pending_time_ms;
  return t.granted - used;
}

uint64_t LeaseBook::Hold(TaskLease& t, const Amounts& worst) {
  t.held += worst;
  t.unlisted_holds = true;
  const uint64_t id = next_reservation_++;
  Held& h = held_[id] = Held{t.lease_id, worst, NewId("e")};
  const UsageFigures f = EstimateFor(worst);
  v1::UsageRecord estimate;
  estimate.set_task_id(t.task.task_id);
  estimate.set_attempt(t.task.attempt);
  estimate.set_project(t.task.project);
  estimate.set_lease_id(t.lease_id);
  estimate.set_kind(std::string(f.kind));
  estimate.set_status(std::string(f.status));
  estimate.set_input_tokens(f.input_tokens);
  estimate.set_cost_micros(f.cost_micros);
  estimate.set_estimated(true);
  sink_.Reserved(h.id, estimate);
  return id;
}

void LeaseBook::Reserve(const MeteredTask& task, const ReserveAsk& ask,
                        std::function<void(Result<Reservation>)> done) {
  TaskLease* t = Find(task.task_id);
  if (t == nullptr || t->task.attempt != task.attempt) {
    done(MakeError(ErrorCode::kNotFound, "the task has ended"));
    return;
  }
  if (t->exhausted) {
    done(MakeError(ErrorCode::kBudgetExhausted, t->exhausted_message));
    return;
  }
  if (t->waiters.empty() && ask.worst.FitsIn(Available(*t))) {
    done(Reservation{Hold(*t, ask.worst), ask.worst});
    // Running low: top up ahead, so the next calls find the lease full enough.
    if (!t->low_water.FitsIn(Available(*t)) && !t->asking) Ask(*t, false);
    return;
  }
  // The next lease request covers it (this one's worst case, or as much as the budget has).
  t->waiters.push_back(Waiter{ask, t->asks_sent + 1, std::move(done)});
  t->queued += ask.least;
  t->queued_worst += ask.worst;
  if (t->asking) {
    t->ask_again = true;
  } else {
    Ask(*t, false);
  }
}

void LeaseBook::Settle(uint64_t reservation, v1::UsageRecord record) {
  auto it = held_.find(reservation);
  if (it == held_.end()) {
    spdlog::error("meter: settle of unknown reservation {}", reservation);
    return;
  }
  Held held = std::move(it->second);
  held_.erase(it);
  auto lit = leases_.find(held.lease_id);
  if (lit == leases_.end()) return;
  TaskLease& t = *lit->second;
  t.held -= held.amounts;
  if (record.kind().empty()) record.set_kind("llm");
  record.set_task_id(t.task.task_id);
  record.set_attempt(t.task.attempt);
  record.set_project(t.task.project);
  record.set_lease_id(t.lease_id);
  t.recorded += Actual(record);
  sink_.Settled(held.id, std::move(record));
  if (t.ended) {
    MaybeClose(t);
  } else {
    ServeWaiters(t);
  }
}

void LeaseBook::ServeWaiters(TaskLease& t) {
  while (!t.waiters.empty()) {
    Waiter& w = t.waiters.front();
    // Available() counts the queue; this one is being decided.
    t.queued -= w.ask.least;
    t.queued_worst -= w.ask.worst;
    const Amounts room = Available(t);
    Amounts held;
    if (w.ask.worst.FitsIn(room)) {
      held = w.ask.worst;
    } else if (t.asks_answered >= w.covered_by && w.ask.least.FitsIn(room)) {
      // The controller has answered for this call and granted less than its worst case: as
      // much as there is, the call's output limit lowered to fit.
      held = Amounts::Min(w.ask.worst, room);
    } else {
      t.queued += w.ask.least;
      t.queued_worst += w.ask.worst;
      break;
    }
    Waiter served = std::move(w);
    t.waiters.pop_front();
    served.done(Reservation{Hold(t, held), held});
  }
  if (t.waiters.empty()) return;
  if (t.asking) {
    t.ask_again = true;
  } else {
    Ask(t, false);
  }
}

void LeaseBook::FailWaiters(TaskLease& t, const Error& error) {
  auto waiters = std::move(t.waiters);
  t.waiters.clear();
  t.queued = t.queued_worst = Amounts{};
  for (Waiter& w : waiters) w.done(error);
}

void LeaseBook::Ask(TaskLease& t, bool close) {
  v1::LeaseRequest req;
  req.set_lease_id(t.lease_id);
  req.set_task_id(t.task.task_id);
  req.set_attempt(t.task.attempt);
  req.set_project(t.task.project);
  *req.mutable_consumed() = ToProto(t.recorded);
  req.set_close(close);
  int listed = 0;
  for (const auto& [n, h] : held_) {
    if (h.lease_id != t.lease_id) continue;
    if (listed++ == kMaxHeldListed) break;
    v1::Reservation* r = req.add_held();
    r->set_id(h.id);
    *r->mutable_amounts() = ToProto(h.amounts);
  }
  if (!close) {
    // The lease must cover what is spent, held and waiting, and the next stretch of time.
    Amounts need = t.recorded + t.held + t.queued;
    const int64_t ahead = 2 * Ms(options_.time_tick);
    need.task_ms += t.pending_time_ms + ahead;
    need.machine_ms += t.pending_time_ms + ahead;
    // It may hold more: the waiting calls' worst cases, and a chunk ahead.
    Amounts want = Amounts::Max(need + (t.queued_worst - t.queued) + Extra(t), t.granted);
    *req.mutable_need_total() = ToProto(need);
    *req.mutable_want_total() = ToProto(want);
  }
  t.asking = true;
  t.ask_again = false;
  t.unlisted_holds = false;
  t.last_ask = SteadyClock::now();
  const uint64_t seq = ++t.asks_sent;
  channel_.Ask(req, [this, alive = std::weak_ptr<bool>(alive_), id = t.lease_id, close,
                     seq](Result<v1::LeaseReply> reply) {
    if (alive.expired()) return;
    OnReply(id, close, seq, reply);
  });
}

Amounts LeaseBook::Extra(TaskLease& t) {
  const auto now = SteadyClock::now();
  const int64_t elapsed_us =
      std::chrono::duration_cast<std::chrono::microseconds>(now - t.pace_since).count();
  const int64_t horizon_us =
      std::chrono::duration_cast<std::chrono::microseconds>(options_.chunk_horizon).count();
  Amounts extra = Amounts::Max(options_.chunk, t.held + t.queued_worst);
  // Measured over at least a tenth of the horizon, so one burst is not taken for a pace.
  // Time is not paced: it passes at one second a second and is asked for ahead by the tick
  // (its records come in 15 s lumps, which would read as a burst).
  if (elapsed_us > 0 && elapsed_us * 10 >= horizon_us) {
    Amounts pace = Scaled(t.recorded - t.pace_mark, horizon_us, elapsed_us);
    pace.task_ms = pace.machine_ms = 0;
    extra = Amounts::Max(extra, pace);
    t.pace_mark = t.recorded;
    t.pace_since = now;
  }
  t.low_water = Half(extra);
  return extra;
}

void LeaseBook::Count(const Result<v1::LeaseReply>& reply) {
  if (!reply) {
    ++counters_.unreachable;
  } else if (!reply->error().empty()) {
    ++counters_.refused;
  } else if (reply->ok()) {
    ++counters_.granted;
  } else if (reply->exhausted()) {
    ++counters_.exhausted;
  } else {
    ++counters_.held;
  }
}

void LeaseBook::OnReply(const std::string& lease_id, bool close, uint64_t seq,
                        const Result<v1::LeaseReply>& reply) {
  auto it = leases_.find(lease_id);
  if (it == leases_.end()) return;
  TaskLease& t = *it->second;
  t.asking = false;
  if (close) {
    // Any answer ends the lease here (the controller keeps what it knows); no answer: the
    // tick asks again.
    if (reply) Forget(lease_id);
    return;
  }
  Count(reply);
  if (!reply) {
    FailWaiters(
        t, MakeError(ErrorCode::kUnavailable,
                     "cannot reach the controller for a budget lease: " + reply.error().message));
  } else if (!reply->error().empty()) {
    spdlog::warn("meter: controller refused lease {} of task {}: {}", lease_id, t.task.task_id,
                 reply->error());
    FailWaiters(t, MakeError(ErrorCode::kUnavailable,
                             "the controller refused the budget lease: " + reply->error()));
  } else {
    if (reply->ttl_ms() > 0) t.ttl = std::chrono::milliseconds(reply->ttl_ms());
    t.granted = Amounts::Max(t.granted, FromProto(reply->granted_total()));
    t.expires = SteadyClock::now() + t.ttl;
    if (!close) t.asks_answered = std::max(t.asks_answered, seq);
    if (!reply->ok() && reply->exhausted()) {
      const bool first = !t.exhausted;
      t.exhausted = true;
      t.exhausted_message = reply->message();
      FailWaiters(t, MakeError(ErrorCode::kBudgetExhausted, reply->message()));
      if (first && !t.ended && on_exhausted_) {
        on_exhausted_(TaskOutOfBudget{t.task.task_id, t.task.attempt, reply->message(),
                                      reply->on_exhaust() != "stop"});
      }
    } else if (!reply->ok()) {
      FailWaiters(t, MakeError(ErrorCode::kUnavailable,
                               reply->message() + " (held by other running calls; retry shortly)"));
    } else {
      ServeWaiters(t);
    }
  }
  if (t.ended) {
    MaybeClose(t);
  } else if (t.ask_again && !t.asking) {
    Ask(t, false);
  }
}

void LeaseBook::ChargeTime(TaskLease& t, bool final) {
  const auto now = SteadyClock::now();
  t.pending_time_ms += Ms(now - t.last_charge);
  t.last_charge = now;
  if (final || now - t.last_record >= options_.time_record_every) SendTimeRecord(t);
}

void LeaseBook::SendTimeRecord(TaskLease& t) {
  t.last_record = SteadyClock::now();
  if (t.pending_time_ms <= 0) return;
  v1::UsageRecord r;
  r.set_kind("time");
  r.set_task_id(t.task.task_id);
  r.set_attempt(t.task.attempt);
  r.set_project(t.task.project);
  r.set_lease_id(t.lease_id);
  r.set_task_ms(t.pending_time_ms);
  r.set_machine_ms(t.pending_time_ms);
  r.set_status("ok");
  t.recorded.task_ms += t.pending_time_ms;
  t.recorded.machine_ms += t.pending_time_ms;
  t.pending_time_ms = 0;
  sink_.Record(std::move(r));
}

void LeaseBook::MaybeClose(TaskLease& t) {
  if (!t.ended || !t.held.IsZero() || t.asking) return;
  Ask(t, /*close=*/true);
}

void LeaseBook::Forget(const std::string& lease_id) {
  auto it = leases_.find(lease_id);
  if (it == leases_.end()) return;
  TaskLease* t = it->second.get();
  if (!t->ended) {
    tasks_.erase(t->task.task_id);
    tokens_.erase(t->token);
  }
  leases_.erase(it);
}

void LeaseBook::ScheduleTick() {
  tick_timer_.expires_after(options_.time_tick);
  tick_timer_.async_wait([this](boost::system::error_code ec) {
    if (ec) return;
    Tick();
    ScheduleTick();
  });
}

// Charges tool time, tops up a lease whose time runs short, renews leases before they expire
// and retries closes that did not get through.
void LeaseBook::Tick() {
  const auto now = SteadyClock::now();
  std::vector<TaskLease*> all;
  all.reserve(leases_.size());
  for (auto& [id, t] : leases_) all.push_back(t.get());
  for (TaskLease* t : all) {
    if (t->ended) {
      if (!t->asking && now - t->last_ask >= options_.close_retry) MaybeClose(*t);
      continue;
    }
    ChargeTime(*t, false);
    if (t->asking || t->exhausted) continue;
    const Amounts free = Available(*t);
    const int64_t ahead = 2 * Ms(options_.time_tick);
    const bool time_short = free.task_ms < ahead || free.machine_ms < ahead;
    const bool renew_due = Live(*t) && now >= t->expires - 2 * t->ttl / 3;
    // Calls held since the last request are told to the controller within a tick: should the
    // machine be lost with them in flight, it charges them (LeaseRequest.held).
    if (time_short || renew_due || t->unlisted_holds) Ask(*t, false);
  }
}

}  // namespace autovibe::meter
