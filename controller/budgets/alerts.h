// Budget alerts leave the controller through an AlertSink: the log, and the notifier that
// posts them to webhooks (controller/notify/notifier.h, NotifyingAlertSink).
#pragma once

#include <string>

#include "controller/store/budget_store.h"

namespace autovibe {

class AlertSink {
 public:
  virtual ~AlertSink() = default;
  // Called on the owner thread, once per alert, while the caller's transaction that records
  // it is still open. Must not block.
  virtual void Alert(const BudgetAlert& a) = 0;
};

// "autovibe: project demo used 75% of its usd budget (total): $0.75 of $1.00"; threshold 100
// reads "... exhausted its usd budget (total): $1.00 of $1.00".
std::string AlertText(const BudgetAlert& a);

// Logs each alert and forwards it to `next` (may be null): every alert leaves a trace in the
// log, whoever else hears of it.
class LogAlertSink final : public AlertSink {
 public:
  explicit LogAlertSink(AlertSink* next = nullptr) : next_(next) {}
  void Alert(const BudgetAlert& a) override;

 private:
  AlertSink* next_;
};

}  // namespace autovibe
