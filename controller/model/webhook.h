// Signed notifications (README "Webhooks"): who is told what. A subscription names a URL, the
// kinds of event it wants and, optionally, the one project it follows; each event it matches
// becomes one delivery, tried until the receiver takes it or the attempts run out.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace autovibe {

// What happened. kTest is only sent by POST /v1/webhooks/{id}/test; nobody subscribes to it.
enum class NotificationKind {
  kBudgetAlert,         // a budget passed an alert threshold
  kBudgetExhausted,     // a budget reached its limit
  kTaskSucceeded,       //
  kTaskFailed,          //
  kTaskAwaitingReview,  // a repository task's change waits for a human
  kMachineLost,         // no heartbeat within the ttl
  kSpawnFailed,         // a machine could not be made, or never booted
  kTest,
};

// Every kind a subscription may name, in the order the API lists them.
std::span<const NotificationKind> SubscribableKinds();
std::string_view ToString(NotificationKind k);
// "budget_alert" -> kBudgetAlert; nothing for an unknown name or "test".
std::optional<NotificationKind> ParseSubscribableKind(std::string_view name);

// The body's shape: generic JSON, or what a Slack incoming webhook takes.
enum class WebhookFormat { kJson, kSlack };
std::string_view ToString(WebhookFormat f);
std::optional<WebhookFormat> ParseWebhookFormat(std::string_view name);

struct Webhook {
  std::string id;  // "wh-..."
  std::string url;
  std::vector<NotificationKind> kinds;
  std::string project;  // empty: every project, and events of no project (machines)
  WebhookFormat format = WebhookFormat::kJson;
  std::string secret;  // signs every body; never answered after creation, never logged
  std::string ca_pem;  // empty: the system's CAs check the receiver's certificate
  int64_t created_at_ms = 0;

  bool Wants(NotificationKind k) const;
};

enum class DeliveryState { kPending, kDelivered, kFailed };
std::string_view ToString(DeliveryState s);
std::optional<DeliveryState> ParseDeliveryState(std::string_view name);

// One try of a delivery: the receiver's status (0: no answer) or why there was none.
struct DeliveryAttempt {
  int64_t at_ms = 0;
  int status = 0;
  std::string error;  // "" when the receiver answered 2xx
  int64_t duration_ms = 0;
};

struct WebhookDelivery {
  std::string id;  // "dl-...": the X-Autovibe-Delivery header; the same on every attempt
  std::string webhook_id;
  int64_t seq = 0;        // order of creation, over all webhooks
  std::string event_key;  // one delivery per event and webhook: "task_failed:t-1:2"
  NotificationKind kind = NotificationKind::kTest;
  std::string body;  // sent as it is on every attempt
  DeliveryState state = DeliveryState::kPending;
  int64_t next_attempt_at_ms = 0;  // while pending
  std::vector<DeliveryAttempt> attempts;
  int64_t created_at_ms = 0;
};

}  // namespace autovibe
