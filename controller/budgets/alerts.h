// Budget alerts leave the controller through an AlertSink. The webhook sink posts each alert
// as Slack-compatible JSON from its own thread, so a slow or dead receiver never holds up the
// owner thread.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

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
// {"text", "project", "resource", "period", "threshold", "spent", "limit", "at"}.
std::string AlertWebhookJson(const BudgetAlert& a);

struct WebhookOptions {
  std::string url;  // http:// (https:// is not supported yet: alerts are logged, not posted)
  int attempts = 4;
  std::chrono::milliseconds first_backoff{1000};  // doubles after each failed attempt
  std::chrono::milliseconds timeout{5000};
  size_t max_queued = 1000;  // past this, the oldest alerts waiting are dropped (and logged)
  // Runs `send` once the alert is durable, e.g. WriteBatch::AfterCommit; empty: at once.
  std::function<void(std::function<void()> send)> after_commit;
};

// Posts every alert to the webhook. Alert() only queues (owner thread); the posting thread
// retries with backoff and stops, dropping what is left, when the sink is destroyed.
class WebhookAlertSink final : public AlertSink {
 public:
  explicit WebhookAlertSink(WebhookOptions options);
  ~WebhookAlertSink() override;
  WebhookAlertSink(const WebhookAlertSink&) = delete;
  WebhookAlertSink& operator=(const WebhookAlertSink&) = delete;

  // AlertSink
  void Alert(const BudgetAlert& a) override;

  // Alerts posted (a 2xx answer) and given up on, for tests and metrics. Thread-safe.
  uint64_t delivered() const;
  uint64_t failed() const;

 private:
  void Enqueue(std::string body);
  void Run();
  bool Post(const std::string& body);

  WebhookOptions options_;
  bool supported_ = true;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::string> queue_;
  bool stop_ = false;
  uint64_t delivered_ = 0;
  uint64_t failed_ = 0;
  std::thread thread_;
};

// Logs each alert and forwards it to `next` (may be null): the sink used when no webhook is
// configured still leaves a trace.
class LogAlertSink final : public AlertSink {
 public:
  explicit LogAlertSink(AlertSink* next = nullptr) : next_(next) {}
  void Alert(const BudgetAlert& a) override;

 private:
  AlertSink* next_;
};

}  // namespace autovibe
