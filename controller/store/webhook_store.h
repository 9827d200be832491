// Webhook subscriptions and their delivery log (sqlite_webhook_store.cc, migration 13).
// Owner-thread only, like the rest of the store.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/core/result.h"
#include "controller/model/webhook.h"

namespace autovibe {

class WebhookStore {
 public:
  virtual ~WebhookStore() = default;

  // Oldest first.
  virtual Result<std::vector<Webhook>> LoadWebhooks() = 0;
  // Inserts or replaces the webhook with this id.
  virtual Result<void> SaveWebhook(const Webhook& w) = 0;
  // Removes the webhook and its deliveries.
  virtual Result<void> DeleteWebhook(std::string_view id) = 0;

  // Records a new delivery and sets d.seq; false (nothing written) when the webhook has a
  // delivery of the same event_key already.
  virtual Result<bool> InsertDelivery(WebhookDelivery& d) = 0;
  // Writes a delivery's state, next attempt and attempts.
  virtual Result<void> UpdateDelivery(const WebhookDelivery& d) = 0;
  // Every pending delivery, oldest first: what a restart resumes.
  virtual Result<std::vector<WebhookDelivery>> PendingDeliveries() = 0;
  // The webhook's newest `limit` deliveries, newest first.
  virtual Result<std::vector<WebhookDelivery>> Deliveries(std::string_view webhook_id,
                                                          size_t limit) = 0;
  // Removes all but the webhook's newest `keep` deliveries; returns the ids removed.
  virtual Result<std::vector<std::string>> PruneDeliveries(std::string_view webhook_id,
                                                           size_t keep) = 0;
};

}  // namespace autovibe
