#include "worker-agent/snapshot/transfer.h"

#include <zstd.h>

#include <unordered_set>

#include "worker-agent/snapshot/tree.h"

namespace autovibe::snapshot {
namespace {

constexpr int kTransitLevel = 1;

}  // namespace

Result<std::vector<Hash>> ObjectsOf(const ChunkStore& store, std::string_view root) {
  std::unordered_set<Hash, HashKey> seen;
  std::vector<Hash> out;
  TreeWalk walk;
  walk.enter = [&](const Hash& h) {
    if (!seen.insert(h).second) return false;
    out.push_back(h);
    return true;
  };
  walk.visit = [&](const v1::Tree& tree, const std::string&, int) -> Result<void> {
    for (const auto& e : tree.entries()) {
      for (const auto& c : e.chunks()) {
        auto h = *HashFromBytes(c.hash());  // checked by LoadTree
        if (seen.insert(h).second) out.push_back(h);
      }
    }
    return {};
  };
  if (!HashFromBytes(root)) {
    return MakeError(ErrorCode::kHostileManifest, "the checkpoint names no well-formed root tree");
  }
  if (auto r = WalkTrees(store, root, walk); !r) return r.error();
  return out;
}

std::vector<Hash> MissingFrom(const ChunkStore& store, std::span<const Hash> hashes) {
  std::vector<Hash> out;
  for (const Hash& h : hashes) {
    if (!store.Has(h)) out.push_back(h);
  }
  return out;
}

Result<const std::string*> PartSender::Compressed(const ChunkStore& store, const Hash& hash) {
  if (have_last_ && last_hash_ == hash) return &last_;
  auto raw = store.Get(hash);
  if (!raw) return raw.error();
  std::string out(ZSTD_compressBound(raw->size()), '\0');
  size_t n = ZSTD_compress(out.data(), out.size(), raw->data(), raw->size(), kTransitLevel);
  if (ZSTD_isError(n))
    return MakeError(ErrorCode::kIo, std::string("zstd: ") + ZSTD_getErrorName(n));
  out.resize(n);
  last_ = std::move(out);
  last_hash_ = hash;
  have_last_ = true;
  return &last_;
}

Result<std::vector<Part>> PartSender::Fetch(const ChunkStore& store, std::span<const Hash> hashes,
                                            uint64_t offset, size_t max_bytes) {
  std::vector<Part> parts;
  size_t budget = std::max<size_t>(max_bytes, 1);
  for (size_t i = 0; i < hashes.size() && budget > 0; ++i) {
    auto data = Compressed(store, hashes[i]);
    if (!data) return data.error();
    const std::string& bytes = **data;
    uint64_t from = i == 0 ? offset : 0;
    if (from > bytes.size()) {
      return MakeError(ErrorCode::kBadRequest,
                       "offset " + std::to_string(from) + " is past object " + hashes[i].hex());
    }
    size_t n = std::min<uint64_t>(budget, bytes.size() - from);
    parts.push_back(Part{hashes[i], from, bytes.size(), bytes.substr(from, n)});
    budget -= std::min(budget, std::max<size_t>(n, 1));
  }
  return parts;
}

Result<void> PartReceiver::Complete(ChunkStore::Writer& writer, const Hash& hash,
                                    const std::string& data) {
  const unsigned long long raw_size = ZSTD_getFrameContentSize(data.data(), data.size());
  if (raw_size == ZSTD_CONTENTSIZE_ERROR || raw_size == ZSTD_CONTENTSIZE_UNKNOWN ||
      raw_size > kMaxObject) {
    return MakeError(ErrorCode::kBadRequest, "object " + hash.hex() + " is not a sized zstd frame");
  }
  std::string raw(raw_size, '\0');
  size_t n = ZSTD_decompress(raw.data(), raw.size(), data.data(), data.size());
  if (ZSTD_isError(n) || n != raw_size) {
    return MakeError(ErrorCode::kBadRequest, "object " + hash.hex() + " does not decompress");
  }
  if (Sha256(raw) != hash) {
    return MakeError(ErrorCode::kCorrupt, "object " + hash.hex() + " does not match its hash");
  }
  auto put = writer.Put(hash, {reinterpret_cast<const uint8_t*>(raw.data()), raw.size()});
  if (!put) return put.error();
  return {};
}

void PartReceiver::Drop(std::map<Hash, Pending>::iterator it) {
  pending_bytes_ -= it->second.data.size();
  pending_.erase(it);
}

Result<PutReport> PartReceiver::Put(ChunkStore& store, std::vector<Part> parts) {
  PutReport report;
  ChunkStore::Writer writer(store);
  std::optional<Error> failed;
  const auto now = std::chrono::steady_clock::now();
  for (auto it = pending_.begin(); it != pending_.end();) {
    auto next = std::next(it);
    if (now - it->second.last > kAbandoned) Drop(it);
    it = next;
  }
  for (Part& p : parts) {
    auto it = pending_.find(p.hash);
    if (it == pending_.end() && store.Has(p.hash)) continue;  // sent twice
    if (it != pending_.end() && p.offset == 0) {
      Drop(it);  // started again
      it = pending_.end();
    }
    const uint64_t have = it == pending_.end() ? 0 : it->second.data.size();
    if (p.total > kMaxObject || p.offset != have || p.offset + p.data.size() > p.total ||
        pending_bytes_ + p.data.size() > kMaxPending) {
      if (it != pending_.end()) Drop(it);
      failed = MakeError(ErrorCode::kBadRequest,
                         "object " + p.hash.hex() + ": part at " + std::to_string(p.offset) +
                             " of " + std::to_string(p.total) + " out of order or too large");
      continue;
    }
    if (it == pending_.end()) it = pending_.emplace(p.hash, Pending{}).first;
    it->second.data += p.data;
    it->second.last = now;
    pending_bytes_ += p.data.size();
    if (it->second.data.size() < p.total) continue;
    std::string data = std::move(it->second.data);
    it->second.data.clear();
    pending_bytes_ -= data.size();
    pending_.erase(it);
    if (auto r = Complete(writer, p.hash, data); !r) {
      failed = r.error();
      continue;
    }
    ++report.stored;
    report.bytes += data.size();
  }
  if (auto r = writer.Finish(); !r) return r.error();
  if (failed) return *failed;
  return report;
}

}  // namespace autovibe::snapshot
