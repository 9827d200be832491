#include "worker-agent/meter/call.h"

#include <spdlog/spdlog.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <optional>

#include "common/core/awaitable.h"
#include "common/core/time.h"
#include "worker-agent/meter/count_tokens.h"
#include "worker-agent/meter/errors.h"
#include "worker-agent/meter/fit_output.h"
#include "worker-agent/meter/forward.h"
#include "worker-agent/meter/request.h"
#include "worker-agent/meter/settle.h"

namespace autovibe::meter {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using Clock = std::chrono::steady_clock;
using Request = http::request<http::string_body>;

// The ledger's answer to a Reserve, which may come at once (the lease held enough) or later
// (after a top-up from the controller).
struct PendingReservation {
  explicit PendingReservation(const asio::any_io_executor& ex) : wake(ex) {}
  std::optional<Result<Reservation>> result;
  asio::steady_timer wake;
  bool abandoned = false;  // the call is gone (the proxy is shutting down)
};

asio::awaitable<Result<Reservation>> Reserve(CallLedger& ledger, const MeteredTask& task,
                                             const ReserveAsk& ask) {
  auto pending = std::make_shared<PendingReservation>(co_await asio::this_coro::executor);
  ledger.Reserve(task, ask, [pending, &ledger](Result<Reservation> r) {
    if (pending->abandoned) {
      // Nobody will use it: give it back at once, charging nothing.
      if (r) {
        v1::UsageRecord record;
        record.set_kind("llm");
        record.set_status("client_gone");
        ledger.Settle(r->id, std::move(record));
      }
      return;
    }
    pending->result = std::move(r);
    pending->wake.cancel();
  });
  if (!pending->result) {
    struct Abandon {
      PendingReservation& p;
      ~Abandon() { p.abandoned = !p.result; }
    } abandon{*pending};
    pending->wake.expires_at(Clock::time_point::max());
    co_await pending->wake.async_wait(kTuple);
  }
  co_return std::move(*pending->result);
}

// Settles the reservation exactly once: with what the call did, or, should the call be torn
// down half-way (the proxy's io_context destroyed), as a tool that went away.
class Settlement {
 public:
  Settlement(const CallEnv& env, uint64_t reservation, const CallPlan& plan,
             RateLimiter::Ticket ticket, Clock::time_point received)
      : env_(env),
        reservation_(reservation),
        plan_(plan),
        ticket_(std::move(ticket)),
        received_(received) {}
  ~Settlement() {
    if (!settled_) Settle(Forwarded{.client_gone = true});
  }

  const v1::UsageRecord& Settle(const Forwarded& how) {
    auto latency = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - received_);
    record_ = MakeUsageRecord(plan_, how, env_.prices, latency.count());
    settled_ = true;
    env_.limiter.Correct(ticket_, record_.input_tokens() + record_.output_tokens() +
                                      record_.cache_write_tokens() + record_.cache_read_tokens());
    env_.ledger.Settle(reservation_, record_);
    // What the provider counted for this request bounds the next ones that extend it.
    const int64_t input =
        record_.input_tokens() + record_.cache_write_tokens() + record_.cache_read_tokens();
    if (shape_ != nullptr && env_.prefixes != nullptr && !record_.estimated() && input > 0) {
      env_.prefixes->Learn(task_id_, *shape_, input);
    }
    return record_;
  }
  // The request's shape, kept to learn its token count once settled.
  void Learn(const std::string& task_id, const RequestShape* shape) {
    task_id_ = task_id;
    shape_ = shape;
  }

 private:
  const CallEnv& env_;
  uint64_t reservation_;
  const CallPlan& plan_;
  RateLimiter::Ticket ticket_;
  Clock::time_point received_;
  bool settled_ = false;
  v1::UsageRecord record_;
  std::string task_id_;
  const RequestShape* shape_ = nullptr;
};

// Lowers the plan's input bound to what the task's earlier calls already counted of its
// prefix, plus the bytes after it; the plan is kept as it is when that is no tighter. Returns
// the request's shape (to learn from once settled), or nullopt when there is no book.
std::optional<RequestShape> Tighten(const CallEnv& env, const std::string& task_id,
                                    CallPlan& plan) {
  if (env.prefixes == nullptr) return std::nullopt;
  auto shape = ReadShape(plan.api, plan.body);
  if (!shape) return std::nullopt;
  BoundInput(plan, env.prefixes->InputBound(task_id, *shape));
  return std::move(*shape);
}

// Whether to have the provider count the call's input first: a messages call to a real
// upstream with a large part no earlier call of the task covers (count_tokens.h).
bool WorthCounting(const CallEnv& env, Api api, const std::string& task_id,
                   const std::optional<RequestShape>& shape, const CallPlan& plan) {
  if (api != Api::kMessages || env.provider == nullptr || env.provider->mock ||
      env.options.count_tokens_above <= 0) {
    return false;
  }
  const int64_t unknown = shape && env.prefixes != nullptr
                              ? env.prefixes->UnknownBytes(task_id, *shape)
                              : plan.request.input_bound;
  return unknown >= env.options.count_tokens_above;
}

std::string Autovibe(std::string_view message) { return "autovibe: " + std::string(message); }

// What a refused reservation is refused as.
Refusal ReservationRefusal(const Error& e) {
  if (e.code == ErrorCode::kBudgetExhausted) return Refusal::kBudgetExhausted;
  if (e.code == ErrorCode::kNotFound) return Refusal::kUnauthorized;
  return Refusal::kUnavailable;
}

// The answer to a refused reservation.
ErrorAnswer ReservationRefused(Shape shape, const Error& e) {
  switch (ReservationRefusal(e)) {
    case Refusal::kBudgetExhausted:
      return MakeErrorAnswer(shape, Refusal::kBudgetExhausted, Autovibe(e.message));
    case Refusal::kUnauthorized:
      return MakeErrorAnswer(shape, Refusal::kUnauthorized, Autovibe("the task has ended"));
    default:
      return MakeErrorAnswer(shape, Refusal::kUnavailable, Autovibe(e.message), 1);
  }
}

// A call the proxy refused, counted under why.
void CountRefused(const CallEnv& env, std::string_view provider, Refusal why) {
  if (env.stats == nullptr) return;
  static constexpr std::pair<Refusal, std::string_view> kNames[] = {
      {Refusal::kBadRequest, "bad_request"},
      {Refusal::kUnknownModel, "unknown_model"},
      {Refusal::kUnauthorized, "unauthorized"},
      {Refusal::kNotFound, "not_found"},
      {Refusal::kTooLarge, "too_large"},
      {Refusal::kRateLimited, "rate_limited"},
      {Refusal::kBudgetExhausted, "budget_exhausted"},
      {Refusal::kNoUpstream, "no_upstream"},
      {Refusal::kUnavailable, "unavailable"}};
  for (const auto& [r, name] : kNames) {
    if (r == why) env.stats->Call(provider, name);
  }
}

}  // namespace

std::string_view ProxyToken(const Request& r) {
  if (auto it = r.find("x-api-key"); it != r.end() && !it->value().empty()) return it->value();
  std::string_view auth = r[http::field::authorization];
  if (auth.size() > 7 && beast::iequals(auth.substr(0, 7), "bearer ")) {
    auth.remove_prefix(7);
    while (!auth.empty() && auth.front() == ' ') auth.remove_prefix(1);
    while (!auth.empty() && auth.back() == ' ') auth.remove_suffix(1);
    return auth;
  }
  return {};
}

asio::awaitable<void> RunCall(const CallEnv& env, Api api, Request& request, ToolReply& reply,
                              asio::ip::tcp::socket& tool_socket, Clock::time_point received,
                              Clock::time_point deadline) {
  Shape shape = api == Api::kMessages ? Shape::kAnthropic : Shape::kOpenAi;
  std::string_view token = ProxyToken(request);
  std::optional<MeteredTask> task;
  std::string_view provider_name = ProviderOf(api);
  if (!token.empty()) task = TaskForPeer(env.ledger, token, env.peer);
  if (!task) {
    CountRefused(env, provider_name, Refusal::kUnauthorized);
    co_await reply.SendError(
        MakeErrorAnswer(shape, Refusal::kUnauthorized,
                        Autovibe("invalid API key: use the proxy key your task was given")));
    co_return;
  }
  if (env.provider == nullptr) {
    CountRefused(env, provider_name, Refusal::kNoUpstream);
    co_await reply.SendError(MakeErrorAnswer(
        shape, Refusal::kNoUpstream,
        Autovibe("no upstream is set for " + std::string(provider_name) + " on this agent")));
    co_return;
  }
  auto plan = PlanCall(api, std::move(request.body()), env.prices, env.options.pricing);
  if (!plan) {
    Refusal why = plan.error().code == ErrorCode::kUnknownModel ? Refusal::kUnknownModel
                                                                : Refusal::kBadRequest;
    CountRefused(env, provider_name, why);
    co_await reply.SendError(MakeErrorAnswer(shape, why, Autovibe(plan.error().message)));
    co_return;
  }
  const std::optional<RequestShape> request_shape = Tighten(env, task->task_id, *plan);
  auto admitted = env.limiter.Admit(task->task_id, plan->worst.tokens, Clock::now());
  if (!admitted.ticket) {
    CountRefused(env, provider_name, Refusal::kRateLimited);
    co_await reply.SendError(
        MakeErrorAnswer(shape, Refusal::kRateLimited,
                        Autovibe("the task's rate limit is reached; retry in " +
                                 std::to_string(admitted.retry_after.count()) + " s"),
                        static_cast<int>(admitted.retry_after.count())));
    co_return;
  }
  // Counted only once admitted: a task over its rate limit spends none of the provider's.
  if (WorthCounting(env, api, task->task_id, request_shape, *plan)) {
    auto count =
        UpstreamRequest(request, api, env.provider->pool->url(), env.provider->api_key, plan->body);
    const auto until = std::min(deadline, Clock::now() + env.options.count_tokens_timeout);
    if (auto counted = co_await TightenByCount(*env.provider->pool, count, *plan, until);
        !counted) {
      spdlog::debug("meter: task={}: no token count ({}): bounded by bytes", task->task_id,
                    counted.error().message);
    }
  }
  const int64_t least_output = LeastOutput(*plan, env.options.min_output_tokens);
  ReserveAsk ask{.worst = plan->worst, .least = plan->worst};
  if (least_output > 0) {
    if (auto least = WorstWithOutput(*plan, least_output)) ask.least = least->amounts;
  }
  auto reservation = co_await Reserve(env.ledger, *task, ask);
  if (!reservation) {
    CountRefused(env, provider_name, ReservationRefusal(reservation.error()));
    co_await reply.SendError(ReservationRefused(shape, reservation.error()));
    co_return;
  }
  Settlement settlement(env, reservation->id, *plan, *admitted.ticket, received);
  if (reservation->held != plan->worst) {
    // The budget holds less than the call's worst case: it goes with the output limit that
    // fits what is held.
    const int64_t asked = plan->request.max_output.value_or(plan->price.max_output_tokens);
    const int64_t output = FittingOutput(*plan, least_output, reservation->held);
    if (auto lowered = LowerOutput(*plan, output); !lowered) {
      CountRefused(env, provider_name, Refusal::kBadRequest);
      co_await reply.SendError(
          MakeErrorAnswer(shape, Refusal::kBadRequest, Autovibe(lowered.error().message)));
      settlement.Settle(Forwarded{});
      co_return;
    }
    spdlog::info(
        "meter: task={} model={}: sent with an output limit of {} tokens, not {}: the "
        "budget covers no more",
        task->task_id, plan->model, output, asked);
  }
  if (request_shape) settlement.Learn(task->task_id, &*request_shape);

  if (env.stats != nullptr) env.stats->added_latency.Observe(SecondsSince(received));
  Forwarded how;
  if (env.provider->mock) {
    how = co_await SendMock(MockReply(*plan, env.options.mock, env.serial), api, reply);
  } else {
    auto upstream_request = UpstreamRequest(request, api, env.provider->pool->url(),
                                            env.provider->api_key, std::move(plan->body));
    how = co_await Forward(*env.provider->pool, upstream_request, api, reply, tool_socket, deadline,
                           env.options.drain_timeout);
    if (how.http_status == 0 && !how.client_gone) {
      spdlog::warn("meter: {} upstream {}: {}", provider_name,
                   how.request_sent ? "took the request" : "unreachable", how.error);
      if (!reply.begun()) {
        co_await reply.SendError(MakeErrorAnswer(shape, Refusal::kNoUpstream, Autovibe(how.error)));
      }
    }
  }
  const v1::UsageRecord& r = settlement.Settle(how);
  if (env.stats != nullptr) env.stats->Call(provider_name, r.status());
  spdlog::debug("meter: task={} model={} status={} http={} cost_micros={} latency_us={}",
                task->task_id, r.model(), r.status(), r.http_status(), r.cost_micros(),
                r.latency_us());
}

}  // namespace autovibe::meter
