// The Notifier that posts to webhooks: subscriptions and their delivery log in the store,
// deliveries recorded in the write batch of the decision they tell of and posted once it
// commits, by a WebhookSender off the owner thread, retried with backoff (DeliveryRetry), and
// resumed after a restart from what the store holds. Delivery is at least once: a receiver
// keeps X-Autovibe-Delivery ids to drop a repeat.
//
// Owner-thread only. Secrets stay in the store and the Webhook records; nothing here logs one.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "common/core/time.h"
#include "controller/notify/notifier.h"
#include "controller/notify/retry_policy.h"
#include "controller/notify/webhook_rules.h"
#include "controller/notify/webhook_sender.h"
#include "controller/store/webhook_store.h"
#include "controller/store/write_batch.h"

namespace autovibe {

struct WebhookNotifierDeps {
  boost::asio::io_context* ioc = nullptr;
  WebhookStore* store = nullptr;
  WriteBatch* batch = nullptr;  // null: each write commits by itself
  const Clock* clock = nullptr;
  std::string ca_dir;  // where subscriptions' CAs are written as files for the HTTP client
  WebhookRules rules;
  DeliveryRetry retry;
  size_t keep_deliveries = 100;  // per webhook; older ones leave the log
  size_t senders = 2;            // posts under way at once
  std::chrono::milliseconds timeout{10'000};
};

// The id of the subscription the config's alert_webhook stands for.
inline constexpr std::string_view kConfigWebhookId = "wh-alert-webhook";

class WebhookNotifier final : public Notifier {
 public:
  explicit WebhookNotifier(WebhookNotifierDeps deps);
  ~WebhookNotifier() override;
  WebhookNotifier(const WebhookNotifier&) = delete;
  WebhookNotifier& operator=(const WebhookNotifier&) = delete;

  // Reads the subscriptions and resumes the deliveries a stop left pending.
  Result<void> Load();
  // The config's alert_webhook (empty: none) as subscription kConfigWebhookId, for budget
  // alerts and exhaustion in generic JSON (its "text" is what Slack shows); replaced when the
  // URL changed, removed when the config no longer names one.
  Result<void> KeepConfigWebhook(const std::string& url);

  // Notifier. An event dated before Load() is not sent: it was recorded, with the decision,
  // by the controller that made it (a task that ended before a restart and changes again
  // after it, say).
  void Notify(const Notification& n) override;

  // Checks (webhook_rules.h) and stores a subscription. The record returned holds the secret,
  // to be shown this once. Errors: bad_request (nothing stored), store.
  Result<const Webhook*> Add(const WebhookRequest& req);
  // Removes it with its log; what it had pending is dropped. Errors: not_found, store.
  Result<void> Remove(std::string_view id);
  const Webhook* Find(std::string_view id) const;
  // Oldest first.
  std::vector<const Webhook*> List() const;
  // Its newest `limit` deliveries, newest first. Errors: not_found, store.
  Result<std::vector<WebhookDelivery>> Deliveries(std::string_view id, size_t limit);
  // Sends it a `test` notification, whatever its kinds. Errors: not_found, store.
  Result<WebhookDelivery> SendTest(std::string_view id);

  // Posts under way end; nothing is sent after this. Pending deliveries stay in the store.
  void Stop();

 private:
  struct Pending {
    WebhookDelivery delivery;
    bool in_flight = false;
  };

  // Records a delivery of `n` to `w` (nothing when it has one for n.key) and queues it
  // once the batch commits.
  Result<WebhookDelivery> Deliver(const Webhook& w, const Notification& n);
  void Queue(WebhookDelivery d);
  // Hands due deliveries to the sender, up to `senders` at once, and sets the timer for the
  // next one due.
  void Pump();
  void Attempted(int64_t seq, DeliveryAttempt attempt, AttemptVerdict verdict);
  void Forget(std::string_view delivery_id);
  // Whether `key` was notified before in this process; remembers it (the newest kRememberKeys).
  bool Told(const std::string& key);
  std::string CaFile(const Webhook& w) const;
  Result<void> WriteCa(const Webhook& w);
  void OpenBatch();
  void AfterCommit(std::function<void()> fn);

  WebhookNotifierDeps d_;
  WebhookSender sender_;
  boost::asio::steady_timer timer_;
  std::vector<std::unique_ptr<Webhook>> webhooks_;
  std::map<int64_t, Pending> pending_;  // by seq: oldest first
  size_t in_flight_ = 0;
  int64_t loaded_at_ms_ = 0;
  std::unordered_set<std::string> told_;
  std::deque<std::string> told_order_;
  bool stopped_ = false;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);  // owner thread only
};

}  // namespace autovibe
