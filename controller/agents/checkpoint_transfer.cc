#include "controller/agents/checkpoint_transfer.h"

#include <boost/algorithm/hex.hpp>

#include "autovibe/v1/checkpoint.pb.h"
#include "common/core/ids.h"
#include "controller/agents/agent_event_codec.h"

namespace autovibe {
namespace {

constexpr uint32_t kPage = 20'000;      // hashes per ListObjects page
constexpr size_t kFetchHashes = 2'000;  // hashes per FetchObjects (the reply holds fewer)
constexpr uint32_t kPartBytes = 512 << 10;

class Channel {
 public:
  Channel(Bus& bus, const Subjects& subjects, const TransferRequest& r, Duration timeout)
      : bus_(bus), subjects_(subjects), r_(r), timeout_(timeout) {}

  Result<v1::CommandReply> Ask(const std::string& machine, v1::Command cmd) {
    if (r_.cancelled && r_.cancelled->load()) {
      return MakeError(ErrorCode::kUnavailable, "the controller is stopping");
    }
    cmd.set_command_id(NewId("c"));
    return ReadCommandReply(
        machine, bus_.Request(subjects_.Command(machine), cmd.SerializeAsString(), timeout_));
  }

 private:
  Bus& bus_;
  const Subjects& subjects_;
  const TransferRequest& r_;
  Duration timeout_;
};

}  // namespace

Result<v1::CommandReply> ReadCommandReply(const std::string& machine,
                                          const Result<std::string>& raw) {
  if (!raw) {
    return MakeError(ErrorCode::kUnavailable,
                     "machine " + machine + " did not answer: " + raw.error().message);
  }
  v1::CommandReply reply;
  if (!reply.ParseFromString(*raw)) {
    return MakeError(ErrorCode::kUnavailable, "machine " + machine + " sent an undecodable reply");
  }
  if (!reply.ok()) {
    // The agent's own code, as it named it on the wire; one this version does not know fails.
    return MakeError(ParseErrorCode(reply.error_code()).value_or(ErrorCode::kFailed),
                     "machine " + machine + ": " + reply.error());
  }
  return reply;
}

Result<TransferReport> TransferCheckpoint(Bus& bus, const Subjects& subjects,
                                          const TransferRequest& request, Duration timeout) {
  Channel ch(bus, subjects, request, timeout);
  TransferReport report;
  // The source's manifest, imported as it came.
  v1::CheckpointManifest manifest;
  uint64_t offset = 0;
  uint64_t total = 0;
  do {
    v1::Command list;
    list.mutable_list_objects()->set_checkpoint_id(request.checkpoint_id);
    list.mutable_list_objects()->set_offset(offset);
    list.mutable_list_objects()->set_limit(kPage);
    auto page = ch.Ask(request.from_machine, std::move(list));
    if (!page) return page.error();
    const v1::ObjectPage& objects = page->objects();
    if (offset == 0) {
      manifest = objects.manifest();
      if (manifest.id() != request.checkpoint_id ||
          (!request.expected_root.empty() &&
           boost::algorithm::hex_lower(manifest.root()) != request.expected_root)) {
        return MakeError(ErrorCode::kConflict, "machine " + request.from_machine + "'s copy of " +
                                                   request.checkpoint_id +
                                                   " differs from the catalogue's");
      }
    }
    total = objects.total();
    if (objects.hashes_size() == 0 && offset < total) {
      return MakeError(ErrorCode::kFailed,
                       "machine " + request.from_machine + " listed no objects");
    }
    offset += static_cast<uint64_t>(objects.hashes_size());

    v1::Command ask;
    *ask.mutable_missing_objects()->mutable_hashes() = objects.hashes();
    auto missing_reply = ch.Ask(request.to_machine, std::move(ask));
    if (!missing_reply) return missing_reply.error();
    const auto& missing = missing_reply->missing();

    int next = 0;         // the first object not wholly sent
    uint64_t within = 0;  // how much of it was
    while (next < missing.size()) {
      v1::Command fetch;
      auto* f = fetch.mutable_fetch_objects();
      for (int i = next; i < missing.size() && f->hashes_size() < static_cast<int>(kFetchHashes);
           ++i) {
        f->add_hashes(missing[i]);
      }
      f->set_offset(within);
      f->set_max_bytes(kPartBytes);
      auto fetched = ch.Ask(request.from_machine, std::move(fetch));
      if (!fetched) return fetched.error();
      const int n = fetched->parts_size();
      if (n == 0)
        return MakeError(ErrorCode::kFailed, "machine " + request.from_machine + " sent nothing");
      // Parts in the order asked, each moving the transfer on.
      for (int i = 0; i < n; ++i) {
        const v1::ObjectPart& p = fetched->parts(i);
        const uint64_t from = i == 0 ? within : 0;
        if (next + i >= missing.size() || p.hash() != missing[next + i] || p.offset() != from ||
            p.data().empty() || p.offset() + p.data().size() > p.total() ||
            (i + 1 < n && p.offset() + p.data().size() != p.total())) {
          return MakeError(ErrorCode::kFailed,
                           "machine " + request.from_machine + " sent parts out of order");
        }
      }
      const v1::ObjectPart& last = fetched->parts(n - 1);
      const uint64_t end = last.offset() + last.data().size();
      for (const auto& p : fetched->parts()) {
        report.sent_bytes += p.data().size();
        if (p.offset() + p.data().size() == p.total()) ++report.sent_objects;
      }
      v1::Command put;
      *put.mutable_put_objects()->mutable_parts() = std::move(*fetched->mutable_parts());
      if (auto r = ch.Ask(request.to_machine, std::move(put)); !r) return r.error();
      if (end >= last.total()) {
        next += n;
        within = 0;
      } else {
        next += n - 1;
        within = end;
      }
    }
  } while (offset < total);
  report.objects = total;

  v1::Command import;
  report.checkpoint = FromProto(manifest);
  *import.mutable_import_checkpoint()->mutable_manifest() = std::move(manifest);
  if (auto r = ch.Ask(request.to_machine, std::move(import)); !r) return r.error();
  return report;
}

}  // namespace autovibe
