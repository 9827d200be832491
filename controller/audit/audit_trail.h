// The audit log: appends hash-chained records in the controller's write batch, prunes those
// past retention behind an anchor, and verifies the chain a page at a time. Owner-thread only.
#pragma once

#include <chrono>
#include <functional>
#include <memory>

#include "common/audit/audit_chain.h"
#include "common/core/duration.h"
#include "common/core/time.h"
#include "controller/model/audit_log.h"
#include "controller/store/store.h"
#include "controller/store/write_batch.h"

namespace autovibe {

struct AuditTrailOptions {
  // Records older than this are removed (0: kept forever).
  Duration retention = std::chrono::hours(365 * 24);
  size_t prune_at_once = 5000;  // records removed per pass; the next tick goes on
};

class AuditVerification;

class AuditTrail final : public AuditLog {
 public:
  AuditTrail(Store& store, WriteBatch& batch, const Clock& clock, AuditTrailOptions options = {})
      : store_(store), batch_(batch), clock_(clock), options_(options) {}

  // AuditLog
  void Record(AuditRecord r) override;

  // Once a second: removes what retention no longer keeps (at most hourly, and in passes of
  // prune_at_once while a backlog lasts), never while a verification runs. Returns how many.
  size_t Tick();
  // Removes records written before `before_ms` now, in the open batch. Returns how many.
  Result<size_t> PruneBefore(int64_t before_ms);

  // A verification of the whole chain from the anchor, `page` records per Step. Retention
  // waits while one is alive.
  Result<std::unique_ptr<AuditVerification>> Verify(size_t page = 2000);

  AuditStore& records() { return store_.audit(); }

  // Told of each record once it is written, in the same batch (the events stream's share).
  void Observe(std::function<void(const AuditRecord&)> observer) {
    observer_ = std::move(observer);
  }

 private:
  friend class AuditVerification;

  Store& store_;
  WriteBatch& batch_;
  const Clock& clock_;
  AuditTrailOptions options_;
  int64_t next_prune_ms_ = 0;
  std::function<void(const AuditRecord&)> observer_;
  // Verifications alive; shared, as one may outlive the trail in a handler the io_context
  // drops at shutdown.
  std::shared_ptr<int> verifying_ = std::make_shared<int>(0);
};

class AuditVerification {
 public:
  ~AuditVerification() { --*verifying_; }
  AuditVerification(const AuditVerification&) = delete;
  AuditVerification& operator=(const AuditVerification&) = delete;

  // Checks the next page; true once the chain's end or a break is reached.
  Result<bool> Step();
  const AuditChainCheck& check() const { return check_; }
  const AuditAnchor& anchor() const { return anchor_; }

 private:
  friend class AuditTrail;
  AuditVerification(AuditTrail& trail, AuditAnchor anchor, size_t page)
      : trail_(trail), verifying_(trail.verifying_), anchor_(anchor), check_(anchor), page_(page) {
    ++*verifying_;
  }

  AuditTrail& trail_;
  std::shared_ptr<int> verifying_;
  AuditAnchor anchor_;
  AuditChainCheck check_;
  size_t page_;
};

}  // namespace autovibe
