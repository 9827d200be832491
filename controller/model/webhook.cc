#include "controller/model/webhook.h"

#include <algorithm>
#include <array>

namespace autovibe {
namespace {

constexpr std::array kSubscribable = {
    NotificationKind::kBudgetAlert,        NotificationKind::kBudgetExhausted,
    NotificationKind::kTaskSucceeded,      NotificationKind::kTaskFailed,
    NotificationKind::kTaskAwaitingReview, NotificationKind::kMachineLost,
    NotificationKind::kSpawnFailed};

}  // namespace

std::span<const NotificationKind> SubscribableKinds() { return kSubscribable; }

std::string_view ToString(NotificationKind k) {
  switch (k) {
    case NotificationKind::kBudgetAlert:
      return "budget_alert";
    case NotificationKind::kBudgetExhausted:
      return "budget_exhausted";
    case NotificationKind::kTaskSucceeded:
      return "task_succeeded";
    case NotificationKind::kTaskFailed:
      return "task_failed";
    case NotificationKind::kTaskAwaitingReview:
      return "task_awaiting_review";
    case NotificationKind::kMachineLost:
      return "machine_lost";
    case NotificationKind::kSpawnFailed:
      return "spawn_failed";
    case NotificationKind::kTest:
      return "test";
  }
  return "test";
}

std::optional<NotificationKind> ParseSubscribableKind(std::string_view name) {
  for (NotificationKind k : kSubscribable) {
    if (ToString(k) == name) return k;
  }
  return std::nullopt;
}

std::string_view ToString(WebhookFormat f) { return f == WebhookFormat::kSlack ? "slack" : "json"; }

std::optional<WebhookFormat> ParseWebhookFormat(std::string_view name) {
  if (name == "json") return WebhookFormat::kJson;
  if (name == "slack") return WebhookFormat::kSlack;
  return std::nullopt;
}

bool Webhook::Wants(NotificationKind k) const {
  return std::find(kinds.begin(), kinds.end(), k) != kinds.end();
}

std::string_view ToString(DeliveryState s) {
  switch (s) {
    case DeliveryState::kPending:
      return "pending";
    case DeliveryState::kDelivered:
      return "delivered";
    case DeliveryState::kFailed:
      return "failed";
  }
  return "failed";
}

std::optional<DeliveryState> ParseDeliveryState(std::string_view name) {
  for (DeliveryState s :
       {DeliveryState::kPending, DeliveryState::kDelivered, DeliveryState::kFailed}) {
    if (ToString(s) == name) return s;
  }
  return std::nullopt;
}

}  // namespace autovibe
