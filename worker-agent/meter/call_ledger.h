// The seam between the metering proxy (proxy.h) and the agent's budget keeping (the lease
// book): which task a proxy token belongs to, reserving a call's worst-case cost before it is
// forwarded, and settling what it really cost once it ended.
//
// Every method is called on the meter's thread (the io_context the proxy runs on), and every
// callback runs there too.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "autovibe/v1/budget.pb.h"
#include "common/budget/amounts.h"
#include "common/core/result.h"

namespace autovibe::meter {

// The task behind a proxy token.
struct MeteredTask {
  std::string task_id;
  uint32_t attempt = 0;
  std::string project;
  // Who may use the token (peer_owner.h): a boxed task's tool, running as `uid`, or only
  // through the proxy listener made for the task when it has a network of its own. Neither:
  // anyone (task_user = "root", unboxed and trusted).
  std::optional<uid_t> uid;
  bool own_listener = false;
};

// What a call asks to hold back from its task's budget.
struct ReserveAsk {
  Amounts worst;  // the most the call can cost, as the tool sent it
  // The most it can cost once its output limit is lowered as far as the proxy may
  // (fit_output.h): equal to `worst` when it may not be.
  Amounts least;
};

// What the ledger holds back for one call: from the ask's `least` to its `worst`.
struct Reservation {
  uint64_t id = 0;
  Amounts held;
};

class CallLedger {
 public:
  virtual ~CallLedger() = default;

  // The task whose tool holds `token` while it runs; nullopt for any other string (the proxy
  // answers 401).
  virtual std::optional<MeteredTask> TaskForToken(std::string_view token) = 0;

  // Holds back the call's worst case (usd, tokens and one api call) from the task's budget
  // before the call is forwarded; or, when the budget cannot cover it but can cover at least
  // `ask.least`, as much of it as the budget can (the proxy then lowers the call's output limit
  // to fit). `done` gets the reservation, or an error:
  //  - "budget_exhausted": a budget (or the task's max_usd) cannot cover even `ask.least`; the
  //    message says which, in words a user understands. The proxy answers 429 and does not
  //    retry.
  //  - "unavailable": the controller could not be asked (cut off) and the lease holds too
  //    little. The proxy answers 503.
  //  - "not_found": the task ended meanwhile. The proxy answers 401.
  // `done` may run before Reserve returns (the lease held enough) or later (a top-up).
  virtual void Reserve(const MeteredTask& task, const ReserveAsk& ask,
                       std::function<void(Result<Reservation>)> done) = 0;

  // The call ended. `record` carries the real figures (kind "llm", tokens by kind,
  // cost_micros, status, ...); the ledger fills in the ids, sends it to the controller and
  // gives back to the lease what was held beyond it. A record that costs more than was held
  // is still recorded in full.
  virtual void Settle(uint64_t reservation, v1::UsageRecord record) = 0;
};

}  // namespace autovibe::meter
