#include "controller/audit/audit_trail.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/json.hpp>

namespace autovibe {
namespace {

// A record's details stay small: they name fields, never carry bodies.
constexpr size_t kMaxDetailsBytes = 4096;

// The details as Boost.JSON writes them (what the API sends and the CLI hashes again).
std::string CanonicalDetails(const std::string& text) {
  boost::json::error_code ec;
  boost::json::value v = boost::json::parse(text, ec);
  if (ec || !v.is_object()) return "{}";
  std::string out = boost::json::serialize(v);
  if (out.size() > kMaxDetailsBytes) return R"({"truncated":true})";
  return out;
}

}  // namespace

void AuditTrail::Record(AuditRecord r) {
  batch_.Open();
  // The head comes from the store, not memory: a record written inside an operation that was
  // undone (a savepoint rolled back) is gone from the chain as from the table.
  auto head = store_.audit().Head();
  if (!head) {
    spdlog::error("audit record {} of {} not written: {}", r.action, r.actor, head.error().message);
    return;
  }
  r.seq = head->seq + 1;
  r.at_ms = clock_.NowMs();
  r.details = CanonicalDetails(r.details);
  r.prev_hash = head->hash;
  r.hash = AuditHash(r);
  if (auto a = store_.audit().Append(r); !a) {
    spdlog::error("audit record {} of {} not written: {}", r.action, r.actor, a.error().message);
    return;
  }
  spdlog::debug("audit seq={} actor={} action={} object={}/{} result={}", r.seq, r.actor, r.action,
                r.object_kind, r.object_id, r.result);
  if (observer_) observer_(r);
}

size_t AuditTrail::Tick() {
  if (options_.retention.count() <= 0 || *verifying_ > 0) return 0;
  const int64_t now = clock_.NowMs();
  if (now < next_prune_ms_) return 0;
  batch_.Open();
  auto n = PruneBefore(now - options_.retention.count());
  if (!n) {
    spdlog::error("audit records past retention not removed: {}", n.error().message);
    return 0;
  }
  // A full pass leaves a backlog: the next tick goes on. Else checked a few times within the
  // retention, at most hourly.
  const auto every =
      std::clamp<Duration>(options_.retention / 4, std::chrono::seconds(1), std::chrono::hours(1));
  next_prune_ms_ = *n >= options_.prune_at_once ? now : now + every.count();
  if (*n > 0) spdlog::info("audit: {} records past retention removed", *n);
  return *n;
}

Result<size_t> AuditTrail::PruneBefore(int64_t before_ms) {
  return store_.audit().Prune(before_ms, options_.prune_at_once);
}

Result<std::unique_ptr<AuditVerification>> AuditTrail::Verify(size_t page) {
  auto anchor = store_.audit().Anchor();
  if (!anchor) return anchor.error();
  return std::unique_ptr<AuditVerification>(
      new AuditVerification(*this, *anchor, std::max<size_t>(page, 1)));
}

Result<bool> AuditVerification::Step() {
  AuditFilter f;
  f.oldest_first = true;
  f.after_seq = check_.last_seq();
  f.limit = page_;
  auto page = trail_.store_.audit().Find(f);
  if (!page) return page.error();
  for (const AuditRecord& r : *page) {
    if (check_.Next(r)) return true;
  }
  return page->size() < page_;
}

}  // namespace autovibe
