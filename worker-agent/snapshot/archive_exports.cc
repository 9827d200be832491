#include "worker-agent/snapshot/archive_exports.h"

#include <algorithm>

namespace autovibe::snapshot {
namespace {

using SteadyClock = std::chrono::steady_clock;

// What skipping reads at a time, to reach an offset in an archive started again.
constexpr size_t kSkipBytes = 1 << 20;
constexpr size_t kMaxExportId = 64;

}  // namespace

std::set<std::string> ArchiveExports::Checkpoints() const {
  std::set<std::string> out;
  for (const auto& [id, e] : exports_) out.insert(e.checkpoint_id);
  return out;
}

void ArchiveExports::Forget(SteadyClock::time_point now) {
  std::erase_if(exports_, [&](const auto& e) { return now - e.second.used > kIdle; });
  while (exports_.size() >= kMaxExports) {
    auto oldest = std::min_element(
        exports_.begin(), exports_.end(),
        [](const auto& a, const auto& b) { return a.second.used < b.second.used; });
    exports_.erase(oldest);
  }
}

Result<ArchiveExports::Export> ArchiveExports::Start(CheckpointStore& store,
                                                     const ArchivePieceRequest& r) const {
  auto manifest = store.Get(r.checkpoint_id);
  if (!manifest) return manifest.error();
  auto writer = ArchiveWriter::Open(store.chunks(), *manifest, options_);
  if (!writer) return writer.error();
  while ((*writer)->position() < r.offset) {
    if ((*writer)->done()) {
      return MakeError(ErrorCode::kBadRequest,
                       "offset " + std::to_string(r.offset) +
                           " is past the end of the archive of " + r.checkpoint_id + " (" +
                           std::to_string((*writer)->position()) + " bytes)");
    }
    auto skipped =
        (*writer)->Next(std::min<uint64_t>(kSkipBytes, r.offset - (*writer)->position()));
    if (!skipped) return skipped.error();
  }
  return Export{.checkpoint_id = r.checkpoint_id, .writer = std::move(*writer)};
}

Result<ArchivePiece> ArchiveExports::Piece(CheckpointStore& store, const ArchivePieceRequest& r) {
  if (r.export_id.empty() || r.export_id.size() > kMaxExportId) {
    return MakeError(ErrorCode::kBadRequest, "an export id is 1 to 64 bytes");
  }
  const auto now = SteadyClock::now();
  auto it = exports_.find(r.export_id);
  if (it != exports_.end() && it->second.checkpoint_id != r.checkpoint_id) {
    exports_.erase(it);
    it = exports_.end();
  }
  if (it != exports_.end()) {
    Export& e = it->second;
    e.used = now;
    if (e.sent && r.offset == e.last_offset) return e.last;  // its reply was lost
    if (r.offset != e.writer->position()) {
      exports_.erase(it);
      it = exports_.end();
    }
  }
  if (it == exports_.end()) {
    auto started = Start(store, r);
    if (!started) return started.error();
    Forget(now);
    it = exports_.emplace(r.export_id, std::move(*started)).first;
  }
  Export& e = it->second;
  e.used = now;
  auto data = e.writer->Next(r.max_bytes);
  if (!data) {
    exports_.erase(it);
    return data.error();
  }
  e.sent = true;
  e.last_offset = r.offset;
  e.last = ArchivePiece{.data = std::move(*data), .last = e.writer->done()};
  if (e.last.last) e.last.total = e.writer->position();
  return e.last;
}

}  // namespace autovibe::snapshot
