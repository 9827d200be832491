// The one seam through which the controller tells the outside world what happened: budget
// alerts, tasks ending, machines going away. Each place that decides calls Notify once; who
// is told, how, and how often it is retried is the notifier's business (webhook_notifier.h).
#pragma once

#include "controller/budgets/alerts.h"
#include "controller/notify/notification.h"

namespace autovibe {

class Notifier {
 public:
  virtual ~Notifier() = default;
  // Owner thread, where the controller decides, inside the write batch that records the
  // decision. Never blocks and never fails the caller: what is to be sent is recorded in the
  // same batch and sent once it commits. The same key twice sends nothing more.
  virtual void Notify(const Notification& n) = 0;
};

// Budget alerts as notifications: budget_alert, and budget_exhausted at 100%.
class NotifyingAlertSink final : public AlertSink {
 public:
  explicit NotifyingAlertSink(Notifier& notifier) : notifier_(notifier) {}

  // AlertSink
  void Alert(const BudgetAlert& a) override { notifier_.Notify(BudgetAlertNotification(a)); }

 private:
  Notifier& notifier_;
};

}  // namespace autovibe
