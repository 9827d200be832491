#include "common/audit/audit_chain.h"

#include <openssl/evp.h>

#include <boost/algorithm/hex.hpp>
#include <cstdlib>
#include <iterator>

namespace autovibe {
namespace {

// Bumped if the encoding ever changes; a verifier then knows which one a record used.
constexpr std::string_view kEncoding = "autovibe-audit-v1";

void Field(std::string& out, std::string_view v) {
  out += std::to_string(v.size());
  out += ':';
  out += v;
}

std::string Sha256Hex(std::string_view data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  // Without SHA-256 no record could be written or checked: nothing sensible goes on.
  if (EVP_Digest(data.data(), data.size(), md, &n, EVP_sha256(), nullptr) != 1) std::abort();
  std::string out;
  boost::algorithm::hex_lower(md, md + n, std::back_inserter(out));
  return out;
}

}  // namespace

std::string AuditHash(const AuditRecord& r) {
  std::string enc;
  enc.reserve(256 + r.details.size());
  Field(enc, kEncoding);
  Field(enc, std::to_string(r.seq));
  Field(enc, std::to_string(r.at_ms));
  Field(enc, r.actor);
  Field(enc, r.action);
  Field(enc, r.object_kind);
  Field(enc, r.object_id);
  Field(enc, r.project);
  Field(enc, r.remote_address);
  Field(enc, std::to_string(r.status));
  Field(enc, r.result);
  Field(enc, r.error);
  Field(enc, r.details);
  Field(enc, r.prev_hash);
  return Sha256Hex(enc);
}

const std::optional<AuditBreak>& AuditChainCheck::Next(const AuditRecord& r) {
  if (broken_) return broken_;
  const std::string seq = std::to_string(r.seq);
  if (r.seq > next_seq_) {
    broken_ = AuditBreak{next_seq_, "record " + std::to_string(next_seq_) +
                                        " is missing (removed): the next record kept is " + seq};
  } else if (r.seq < next_seq_) {
    broken_ = AuditBreak{r.seq, "record " + seq + " is out of order (after record " +
                                    std::to_string(next_seq_ - 1) + ")"};
  } else if (AuditHash(r) != r.hash) {
    broken_ =
        AuditBreak{r.seq, "record " + seq + " was changed: its content does not match its hash"};
  } else if (r.prev_hash != prev_hash_) {
    broken_ = AuditBreak{
        r.seq, "record " + seq + " does not follow the record before it (" +
                   (next_seq_ == 1 ? std::string("none") : std::to_string(next_seq_ - 1)) +
                   "): records were removed, replaced or reordered"};
  }
  if (broken_) return broken_;
  ++checked_;
  ++next_seq_;
  prev_hash_ = r.hash;
  return broken_;
}

}  // namespace autovibe
