#include "controller/api/checkpoint_archives.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <memory>
#include <optional>
#include <utility>

#include "common/core/ids.h"
#include "controller/api/responses.h"

namespace autovibe {
namespace {

// The next piece is asked for while less than this waits for the client: enough to keep the
// connection busy while the agent makes the next one, and all a download holds.
constexpr size_t kQueuedBytes = 2 << 20;

// Lower is asked first.
int Rank(MachineState s) {
  switch (s) {
    case MachineState::kReady:
      return 0;
    case MachineState::kBusy:
      return 1;
    case MachineState::kDraining:
      return 2;
    default:
      return -1;  // cannot answer
  }
}

// One download: finds a holder that gives the first piece, then relays the rest from it.
class ArchiveDownload : public std::enable_shared_from_this<ArchiveDownload> {
 public:
  ArchiveDownload(ArchiveAgents& agents, std::string checkpoint, std::vector<std::string> holders)
      : agents_(agents),
        checkpoint_(std::move(checkpoint)),
        holders_(std::move(holders)),
        export_id_(NewId("x")) {}

  // Asks the holders in turn for the first piece; `respond` gets the streaming answer, or the
  // error when none gave it.
  void Begin(std::function<void(HttpResponse)> respond) { Try(0, std::move(respond)); }

 private:
  void Try(size_t i, std::function<void(HttpResponse)> respond) {
    if (i == holders_.size()) return respond(ErrorResponse(Failure()));
    agents_.Piece(holders_[i], checkpoint_, export_id_, 0,
                  [self = shared_from_this(), i, respond](Result<ArchivePiece> first) {
                    if (!first) {
                      spdlog::warn("checkpoint {} archive: machine {} cannot give it: {}",
                                   self->checkpoint_, self->holders_[i], first.error().message);
                      self->failures_.push_back(first.error());
                      return self->Try(i + 1, respond);
                    }
                    self->machine_ = self->holders_[i];
                    respond(self->Streaming(std::move(*first)));
                  });
  }

  // What to say when no holder gave the archive: their common error, else "unavailable".
  Error Failure() const {
    std::string why;
    bool same = true;
    for (const auto& f : failures_) {
      why += (why.empty() ? "" : "; ") + f.message;
      same = same && f.code == failures_.front().code;
    }
    return MakeError(
        same ? failures_.front().code : ErrorCode::kUnavailable,
        "no machine holding checkpoint " + checkpoint_ + " could send its archive: " + why);
  }

  HttpResponse Streaming(ArchivePiece first) {
    spdlog::info("checkpoint {} archive: sending from machine {}", checkpoint_, machine_);
    started_ = std::chrono::steady_clock::now();
    HttpResponse r{.status = 200, .content_type = "application/zstd"};
    r.headers.emplace_back("Content-Disposition",
                           "attachment; filename=\"" + checkpoint_ + ".tar.zst\"");
    r.headers.emplace_back("X-Autovibe-Machine", machine_);
    r.on_stream = [self = shared_from_this(),
                   first = std::move(first)](std::shared_ptr<HttpBodyStream> stream) mutable {
      self->stream_ = std::move(stream);
      self->Deliver(std::move(first));
    };
    return r;
  }

  void Deliver(ArchivePiece piece) {
    offset_ += piece.data.size();
    if (!stream_->Write(std::move(piece.data))) return Gone();
    if (piece.last) {
      const double s =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
      spdlog::info("checkpoint {} archive: sent {} bytes from machine {} in {:.1f} s", checkpoint_,
                   offset_, machine_, s);
      stream_->Close();
      return;
    }
    if (stream_->queued_bytes() < kQueuedBytes) return Next();
    stream_->WhenSent([self = shared_from_this()] { self->Next(); });
  }

  void Next() {
    if (!stream_->open()) return Gone();
    agents_.Piece(machine_, checkpoint_, export_id_, offset_,
                  [self = shared_from_this()](Result<ArchivePiece> piece) {
                    if (!piece || (piece->data.empty() && !piece->last)) {
                      spdlog::warn("checkpoint {} archive cut off at byte {}: machine {}: {}",
                                   self->checkpoint_, self->offset_, self->machine_,
                                   piece ? "it sent an empty piece" : piece.error().message);
                      self->stream_->Abort();
                      return;
                    }
                    self->Deliver(std::move(*piece));
                  });
  }

  void Gone() {
    spdlog::info("checkpoint {} archive: the client left after {} bytes", checkpoint_, offset_);
  }

  ArchiveAgents& agents_;
  const std::string checkpoint_;
  const std::vector<std::string> holders_;
  const std::string export_id_;
  std::vector<Error> failures_;
  std::string machine_;  // the holder sending it
  uint64_t offset_ = 0;  // bytes written to the client
  std::shared_ptr<HttpBodyStream> stream_;
  std::chrono::steady_clock::time_point started_;
};

}  // namespace

std::vector<std::string> CheckpointArchives::Holders(const CheckpointRecord& c,
                                                     std::string& why) const {
  std::vector<std::pair<int, std::string>> ranked;
  for (const auto& id : c.copies) {
    const MachineRecord* m = d_.fleet->Find(id);
    const int rank = m == nullptr ? -1 : Rank(m->state);
    if (rank >= 0) {
      ranked.emplace_back(rank, id);
      continue;
    }
    why +=
        (why.empty() ? "" : ", ") + id +
        (m == nullptr ? " is unknown" : " (" + m->name + ") is " + std::string(ToString(m->state)));
  }
  std::stable_sort(ranked.begin(), ranked.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<std::string> out;
  for (auto& [rank, id] : ranked) out.push_back(std::move(id));
  return out;
}

HttpResponse CheckpointArchives::Export(std::string_view id) {
  const CheckpointRecord* c = d_.checkpoints->Find(id);
  if (c == nullptr) return JsonError(404, "not_found", "no checkpoint " + Clipped(id));
  std::string why;
  auto holders = Holders(*c, why);
  if (holders.empty()) {
    return JsonError(503, "unavailable",
                     "no machine holding checkpoint " + c->id + " can be reached now" +
                         (why.empty() ? std::string() : ": " + why));
  }
  auto download = std::make_shared<ArchiveDownload>(*d_.agents, c->id, std::move(holders));
  HttpResponse r;
  r.later = [download](std::function<void(HttpResponse)> respond) {
    download->Begin(std::move(respond));
  };
  return r;
}

}  // namespace autovibe
