// Answers join requests on <prefix>.join.<token id>: an agent enrolling with a one-time join
// token (JoinTokens) asks under the token's own bus user, and hears back, on the token's own
// inboxes only, a machine id and that machine's bus user. The answer goes out once the use of
// the token is committed, so a controller that crashes cannot hand out one token twice.
//
// Owner-thread only, except that bus callbacks post here.
#pragma once

#include <boost/asio/io_context.hpp>
#include <memory>
#include <string>

#include "common/bus/bus.h"
#include "controller/machines/join_tokens.h"
#include "controller/store/write_batch.h"

namespace autovibe {

struct JoinServiceDeps {
  boost::asio::io_context* ioc = nullptr;  // the owner thread
  Bus* bus = nullptr;
  WriteBatch* batch = nullptr;
  JoinTokens* tokens = nullptr;
  std::string subject_prefix = "av";
};

class JoinService {
 public:
  explicit JoinService(JoinServiceDeps deps) : d_(std::move(deps)) {}

  // Subscribes to <prefix>.join.*.
  Result<void> Start();
  // No message is handled after this returns (on the owner thread).
  void Stop();

  // Handles one message (owner thread); public for tests.
  void Handle(const BusMessage& m);

 private:
  JoinServiceDeps d_;
  std::unique_ptr<Subscription> sub_;
  bool stopped_ = false;
};

}  // namespace autovibe
