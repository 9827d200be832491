// Answers budget lease requests on <prefix>.lease.<m> (DESIGN.md, "Budgets"). A reply goes out
// only after the grant it carries is committed, so an agent never spends a lease the
// controller could forget in a crash. A machine asks only for the task attempts placed on it
// and the leases it holds (SenderRules); any other request is answered with an error, counted
// (Refusals, kind "lease") and changes nothing. Owner-thread only, except that bus callbacks
// post here.
#pragma once

#include <boost/asio/io_context.hpp>
#include <memory>
#include <string>
#include <string_view>

#include "common/bus/bus.h"
#include "common/core/result.h"
#include "controller/agents/sender_rules.h"
#include "controller/budgets/budget_book.h"
#include "controller/model/lease.h"
#include "controller/store/write_batch.h"

namespace autovibe {

struct LeaseServiceDeps {
  boost::asio::io_context* ioc = nullptr;  // the owner thread
  Bus* bus = nullptr;
  WriteBatch* batch = nullptr;
  BudgetBook* book = nullptr;
  std::string subject_prefix = "av";
  const SenderRules* rules = nullptr;
  Refusals* refusals = nullptr;
  // Bus users are on: answers go only to the asking machine's own inboxes (_INBOX_<m>.).
  bool own_inboxes_only = false;
};

// Decodes a lease message into the budget book's LeaseRequest and checks that the subject
// names the machine the request speaks for. Counts a rejected message in the bus stats
// ("lease": undecodable, subject_mismatch). Code "bad_request" with a message for the reply's
// `error`.
Result<LeaseRequest> DecodeLeaseRequest(Bus& bus, const BusMessage& m,
                                        std::string_view subject_prefix);

class LeaseService {
 public:
  explicit LeaseService(LeaseServiceDeps deps) : deps_(std::move(deps)) {}

  // Subscribes to <prefix>.lease.*; messages are handled on the owner thread.
  Result<void> Start();
  // No message is handled after this returns (on the owner thread).
  void Stop();

  // Handles one message (owner thread): a malformed one is answered with `error` at once and
  // changes nothing; a valid one is granted in the open batch and answered after its commit.
  void Handle(const BusMessage& m);

 private:
  void Reply(const std::string& to, const LeaseReply& reply);

  LeaseServiceDeps deps_;
  std::unique_ptr<Subscription> sub_;
  bool stopped_ = false;
};

}  // namespace autovibe
