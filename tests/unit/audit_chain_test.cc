// The audit log's hash chain and its JSON form: what `audit verify` relies on, here and in the
// CLI.
#include "common/audit/audit_chain.h"

#include <boost/json.hpp>
#include <catch2/catch.hpp>

#include "common/audit/audit_json.h"
#include "tests/support/catch_result.h"

using namespace autovibe;

namespace {

AuditRecord Sample(int64_t seq, const std::string& prev) {
  AuditRecord r;
  r.seq = seq;
  r.at_ms = 1'700'000'000'123 + seq;
  r.actor = "admin";
  r.action = "POST /v1/tasks/{id}/cancel";
  r.object_kind = "task";
  r.object_id = "t-" + std::to_string(seq);
  r.project = "demo";
  r.remote_address = "127.0.0.1";
  r.status = 200;
  r.details = R"({"reason":"née ☃","priority":-3,"labels":{"a":"b"},"ok":true})";
  r.prev_hash = prev;
  r.hash = AuditHash(r);
  return r;
}

std::vector<AuditRecord> Chain(int n) {
  std::vector<AuditRecord> out;
  std::string prev;
  for (int i = 1; i <= n; ++i) {
    out.push_back(Sample(i, prev));
    prev = out.back().hash;
  }
  return out;
}

std::optional<AuditBreak> Check(const std::vector<AuditRecord>& records, AuditAnchor anchor = {}) {
  AuditChainCheck c(std::move(anchor));
  for (const auto& r : records) {
    if (c.Next(r)) break;
  }
  return c.broken();
}

}  // namespace

TEST_CASE("an audit record's hash covers every field, prev_hash included", "[audit]") {
  const AuditRecord r = Sample(7, "abc");
  CHECK(r.hash.size() == 64);
  CHECK(AuditHash(r) == r.hash);
  std::vector<std::function<void(AuditRecord&)>> changes = {
      [](AuditRecord& x) { x.seq++; }, [](AuditRecord& x) { x.at_ms++; },
      [](AuditRecord& x) { x.actor = "eve"; }, [](AuditRecord& x) { x.action += "x"; },
      [](AuditRecord& x) { x.object_kind = ""; }, [](AuditRecord& x) { x.object_id += "1"; },
      [](AuditRecord& x) { x.project = "other"; }, [](AuditRecord& x) { x.remote_address = "::1"; },
      [](AuditRecord& x) { x.status = 201; }, [](AuditRecord& x) { x.result = "error"; },
      [](AuditRecord& x) { x.error = "e"; }, [](AuditRecord& x) { x.details = "{}"; },
      [](AuditRecord& x) { x.prev_hash = "abd"; },
      // Moving bytes between fields is a change too (each field carries its length).
      [](AuditRecord& x) {
        x.actor = "admi";
        x.action = "nPOST /v1/tasks/{id}/cancel";
      }};
  for (size_t i = 0; i < changes.size(); ++i) {
    AuditRecord changed = r;
    changes[i](changed);
    INFO("change " << i);
    CHECK(AuditHash(changed) != r.hash);
  }
}

TEST_CASE("the chain check names the first record changed, removed or reordered", "[audit]") {
  CHECK(!Check(Chain(5)));

  auto changed = Chain(5);
  changed[2].error = "quietly edited";
  REQUIRE(Check(changed));
  CHECK(Check(changed)->seq == 3);
  CHECK(Check(changed)->problem.find("was changed") != std::string::npos);

  auto removed = Chain(5);
  removed.erase(removed.begin() + 1);
  REQUIRE(Check(removed));
  CHECK(Check(removed)->seq == 2);
  CHECK(Check(removed)->problem.find("missing") != std::string::npos);

  // Removed and renumbered so the seqs run on: the next record no longer follows.
  auto renumbered = Chain(5);
  renumbered.erase(renumbered.begin() + 1);
  for (size_t i = 1; i < renumbered.size(); ++i) {
    renumbered[i].seq = static_cast<int64_t>(i) + 1;
    const std::string prev = renumbered[i].prev_hash;
    renumbered[i].hash = AuditHash(renumbered[i]);  // a forger recomputes hashes, but...
    renumbered[i].prev_hash = prev;
  }
  REQUIRE(Check(renumbered));
  CHECK(Check(renumbered)->seq == 2);
  CHECK(Check(renumbered)->problem.find("does not follow") != std::string::npos);

  // The first kept record after retention follows the anchor, not nothing.
  auto kept = Chain(5);
  const AuditAnchor anchor{2, kept[1].hash, kept[1].at_ms};
  kept.erase(kept.begin(), kept.begin() + 2);
  CHECK(!Check(kept, anchor));
  CHECK(Check(kept));  // without the anchor: records 1 and 2 are missing
  CHECK(Check(kept, AuditAnchor{2, "forged", 0})->problem.find("does not follow") !=
        std::string::npos);
}

TEST_CASE("an audit record read back from its JSON hashes as it did when written", "[audit]") {
  for (const AuditRecord& r : Chain(3)) {
    const std::string wire = boost::json::serialize(AuditRecordJson(r));
    auto back = AuditRecordFromJson(boost::json::parse(wire));
    REQUIRE(back);
    CHECK(back->details == r.details);
    CHECK(AuditHash(*back) == r.hash);
  }
  // A record whose details are not an object (tampered) does not verify once read back.
  AuditRecord bad = Sample(1, "");
  bad.details = "not json";
  bad.hash = AuditHash(bad);
  auto back = AuditRecordFromJson(AuditRecordJson(bad));
  REQUIRE(back);
  CHECK(AuditHash(*back) != bad.hash);
  CHECK(!AuditRecordFromJson(boost::json::parse(R"({"seq":"one"})")));
}
