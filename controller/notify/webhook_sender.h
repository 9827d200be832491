// Posts deliveries from threads of its own, so a slow or dead receiver never holds up the
// owner thread: Send() only queues, and the outcome comes back on the owner thread.
#pragma once

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/thread_pool.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "common/core/time.h"
#include "controller/model/webhook.h"
#include "controller/notify/retry_policy.h"

namespace autovibe {

// One attempt of one delivery, with what it needs copied in (the sending thread shares
// nothing with the owner thread).
struct WebhookPost {
  std::string delivery_id;
  NotificationKind kind = NotificationKind::kTest;
  std::string url;
  std::string body;
  std::string secret;
  std::string ca_file;  // empty: the system's CAs
  std::chrono::milliseconds timeout{10'000};
};

class WebhookSender {
 public:
  using Done = std::function<void(DeliveryAttempt attempt, AttemptVerdict verdict)>;

  // `threads` posts at most at once; `clock` signs each attempt with its own timestamp.
  WebhookSender(boost::asio::io_context& owner, const Clock& clock, size_t threads);
  ~WebhookSender();
  WebhookSender(const WebhookSender&) = delete;
  WebhookSender& operator=(const WebhookSender&) = delete;

  // Owner thread. POSTs `post` signed (X-Autovibe-Signature, X-Autovibe-Event,
  // X-Autovibe-Delivery) on a sending thread; `done` runs on the owner thread with the outcome,
  // unless Stop() came first.
  void Send(WebhookPost post, Done done);
  // Waits for the posts under way (each ends within its timeout); queued ones are dropped and
  // no `done` runs after this returns.
  void Stop();

 private:
  boost::asio::io_context& owner_;
  const Clock& clock_;
  boost::asio::thread_pool pool_;
  std::shared_ptr<std::atomic<bool>> alive_ = std::make_shared<std::atomic<bool>>(true);
};

}  // namespace autovibe
