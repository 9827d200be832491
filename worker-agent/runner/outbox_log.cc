#include "worker-agent/runner/outbox_log.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <boost/crc.hpp>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>

#include "common/core/files.h"

namespace autovibe {
namespace {

constexpr size_t kHeader = 9;
// No entry is larger (a log chunk is at most 64 KiB): a bigger length is damage.
constexpr uint32_t kMaxPayload = 16 << 20;
constexpr std::string_view kPrefix = "outbox-";
constexpr std::string_view kSuffix = ".log";

void PutU32(char* out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out[i] = static_cast<char>((v >> (8 * i)) & 0xff);
}

uint32_t GetU32(const char* in) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v |= static_cast<uint32_t>(static_cast<uint8_t>(in[i])) << (8 * i);
  return v;
}

// Over the length, the kind and the payload: a damaged length is caught as well.
uint32_t Checksum(const char* length, uint8_t kind, std::string_view payload) {
  boost::crc_32_type crc;
  crc.process_bytes(length, 4);
  crc.process_byte(kind);
  crc.process_bytes(payload.data(), payload.size());
  return crc.checksum();
}

void Header(char* out, OutboxEntryKind kind, std::string_view payload) {
  PutU32(out, static_cast<uint32_t>(payload.size()));
  PutU32(out + 4, Checksum(out, static_cast<uint8_t>(kind), payload));
  out[8] = static_cast<char>(kind);
}

bool KnownKind(uint8_t k) { return k >= 1 && k <= 3; }

// The entry at `pos`, if a whole and intact one starts there.
std::optional<OutboxLog::Entry> EntryAt(std::string_view bytes, size_t pos, size_t& size) {
  if (bytes.size() - pos < kHeader) return std::nullopt;
  const char* h = bytes.data() + pos;
  const uint32_t len = GetU32(h);
  const auto kind = static_cast<uint8_t>(h[8]);
  if (len > kMaxPayload || !KnownKind(kind) || bytes.size() - pos - kHeader < len) {
    return std::nullopt;
  }
  std::string_view payload = bytes.substr(pos + kHeader, len);
  if (Checksum(h, kind, payload) != GetU32(h + 4)) return std::nullopt;
  size = kHeader + len;
  return OutboxLog::Entry{static_cast<OutboxEntryKind>(kind), std::string(payload)};
}

std::optional<uint64_t> SegmentNumber(const std::string& name) {
  if (!name.starts_with(kPrefix) || !name.ends_with(kSuffix)) return std::nullopt;
  std::string_view digits(name);
  digits.remove_prefix(kPrefix.size());
  digits.remove_suffix(kSuffix.size());
  uint64_t n = 0;
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), n);
  if (ec != std::errc() || end != digits.data() + digits.size()) return std::nullopt;
  return n;
}

}  // namespace

std::string OutboxFrame(OutboxEntryKind kind, std::string_view payload) {
  std::string out(kHeader, '\0');
  Header(out.data(), kind, payload);
  out.append(payload);
  return out;
}

OutboxSegmentRead ReadOutboxSegment(std::string_view bytes) {
  OutboxSegmentRead out;
  size_t pos = 0;
  while (pos < bytes.size()) {
    size_t size = 0;
    if (auto e = EntryAt(bytes, pos, size)) {
      out.entries.push_back(std::move(*e));
      pos += size;
      out.good_bytes = pos;
      continue;
    }
    // Damage: go on at the next intact frame, if one follows; else this is the torn tail.
    size_t next = pos + 1;
    while (next < bytes.size() && !EntryAt(bytes, next, size)) ++next;
    if (next >= bytes.size()) break;
    ++out.skipped_entries;
    out.skipped_bytes += next - pos;
    pos = next;
  }
  return out;
}

struct OutboxLog::File {
  explicit File(int f) : fd(f) {}
  ~File() { ::close(fd); }
  int fd;
};

OutboxLog::OutboxLog(OutboxLogOptions options) : options_(std::move(options)) {}

Result<std::unique_ptr<OutboxLog>> OutboxLog::Open(OutboxLogOptions options, Recovered& found) {
  if (auto r = MakeDirs(options.dir, 0700); !r) return r.error();
  std::vector<std::pair<uint64_t, std::string>> old;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(options.dir, ec)) {
    if (auto n = SegmentNumber(e.path().filename().string())) old.emplace_back(*n, e.path());
  }
  if (ec) return MakeError(ErrorCode::kIo, "cannot list " + options.dir + ": " + ec.message());
  std::sort(old.begin(), old.end());
  std::unique_ptr<OutboxLog> log(new OutboxLog(std::move(options)));
  for (const auto& [number, path] : old) {
    auto bytes = ReadFile(path);
    if (!bytes) return bytes.error();
    OutboxSegmentRead read = ReadOutboxSegment(*bytes);
    const uint64_t cut = bytes->size() - read.good_bytes;
    if (cut > 0 || read.skipped_entries > 0) {
      spdlog::warn(
          "agent outbox {}: cut {} bytes of a torn tail, skipped {} damaged entries ({} bytes)",
          path, cut, read.skipped_entries, read.skipped_bytes);
    }
    found.cut_bytes += cut;
    found.skipped_entries += read.skipped_entries;
    found.skipped_bytes += read.skipped_bytes;
    for (auto& e : read.entries) found.entries.push_back(std::move(e));
    log->recovered_.push_back(path);
  }
  {
    std::lock_guard lock(log->mu_);
    if (auto r = log->StartSegment(old.empty() ? 1 : old.back().first + 1); !r) return r.error();
  }
  log->sync_thread_ = std::thread([raw = log.get()] { raw->SyncLoop(); });
  return log;
}

OutboxLog::~OutboxLog() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  wake_sync_.notify_all();
  sync_thread_.join();
}

std::string OutboxLog::PathOf(uint64_t number) const {
  char name[40];
  snprintf(name, sizeof name, "outbox-%012llu.log", static_cast<unsigned long long>(number));
  return options_.dir + "/" + name;
}

Result<void> OutboxLog::StartSegment(uint64_t number) {
  const std::string path = PathOf(number);
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0) return IoError("cannot create", path);
  ::fchmod(fd, 0600);  // whatever the umask
  if (!segments_.empty()) unsynced_.push_back(segments_.back().file);
  segments_.push_back(Segment{number, std::make_shared<File>(fd), 0, 0});
  dir_dirty_ = true;
  return {};
}

Result<void> OutboxLog::DropRecovered() {
  if (auto r = Sync(); !r) return r;
  std::vector<std::string> paths;
  {
    std::lock_guard lock(mu_);
    paths.swap(recovered_);
    dir_dirty_ = true;
  }
  for (const auto& p : paths) {
    if (::unlink(p.c_str()) != 0 && errno != ENOENT) return IoError("cannot delete", p);
  }
  return Sync();
}

Result<OutboxLog::Ref> OutboxLog::Append(OutboxEntryKind kind, std::string_view payload,
                                         bool live) {
  char header[kHeader];
  Header(header, kind, payload);
  iovec iov[2] = {{header, kHeader}, {const_cast<char*>(payload.data()), payload.size()}};
  const size_t total = kHeader + payload.size();
  std::lock_guard lock(mu_);
  Segment& s = segments_.back();
  // O_APPEND: one writev is one append, whole unless the disk is full or failing.
  const ssize_t n = ::writev(s.file->fd, iov, 2);
  if (n != static_cast<ssize_t>(total)) {
    if (n < 0) return IoError("cannot append to", PathOf(s.number));
    return MakeError(ErrorCode::kIo, "short append to " + PathOf(s.number));
  }
  s.bytes += total;
  if (live) ++s.live;
  const Ref ref = s.number;
  ++appended_;
  if (sync_idle_) {
    sync_idle_ = false;
    wake_sync_.notify_one();
  }
  const bool full = s.bytes >= options_.segment_bytes;
  if (full || (s.live == 0 && s.bytes >= options_.idle_roll_bytes)) {
    if (auto r = StartSegment(s.number + 1); !r) {
      spdlog::warn("agent outbox cannot roll over: {}", r.error().message);
    }
    DeleteReleased();
  }
  return ref;
}

void OutboxLog::Release(Ref ref) {
  std::lock_guard lock(mu_);
  for (Segment& s : segments_) {
    if (s.number != ref) continue;
    if (s.live > 0) --s.live;
    break;
  }
  const Segment& current = segments_.back();
  if (current.live == 0 && current.bytes >= options_.idle_roll_bytes) {
    if (auto r = StartSegment(current.number + 1); !r) {
      spdlog::warn("agent outbox cannot roll over: {}", r.error().message);
    }
  }
  DeleteReleased();
}

void OutboxLog::DeleteReleased() {
  while (segments_.size() > 1 && segments_.front().live == 0) {
    const std::string path = PathOf(segments_.front().number);
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
      spdlog::warn("agent outbox cannot delete {}: {}", path, std::strerror(errno));
      return;
    }
    segments_.pop_front();
    dir_dirty_ = true;
  }
}

Result<void> OutboxLog::Sync() {
  std::unique_lock lock(mu_);
  // A whole round that starts after this call: it covers every append before it, and a
  // directory change (a segment created or deleted) too.
  const uint64_t need = syncs_ + (syncing_ ? 2 : 1);
  force_round_ = true;
  sync_idle_ = false;
  wake_sync_.notify_one();
  synced_cv_.wait(lock, [&] { return stopping_ || syncs_ >= need; });
  if (!sync_error_.empty()) return MakeError(ErrorCode::kIo, sync_error_);
  return {};
}

void OutboxLog::SyncLoop() {
  std::unique_lock lock(mu_);
  while (true) {
    const bool work = appended_ > synced_ || dir_dirty_ || force_round_;
    if (!work) {
      if (stopping_) return;
      sync_idle_ = true;
      wake_sync_.wait(lock, [&] { return !sync_idle_ || stopping_; });
      sync_idle_ = false;
      // Gathers the group; Sync() and stopping cut the wait short.
      wake_sync_.wait_for(lock, options_.group_window, [&] { return force_round_ || stopping_; });
      continue;
    }
    const uint64_t target = appended_;
    std::vector<std::shared_ptr<File>> files;
    files.swap(unsynced_);
    files.push_back(segments_.back().file);
    const bool dir = dir_dirty_;
    dir_dirty_ = false;
    force_round_ = false;
    syncing_ = true;
    lock.unlock();
    std::string error;
    for (const auto& f : files) {
      if (::fdatasync(f->fd) != 0)
        error = std::string("cannot sync the outbox: ") + strerror(errno);
    }
    if (dir) {
      const int d = ::open(options_.dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
      if (d < 0 || ::fsync(d) != 0) error = "cannot sync " + options_.dir + ": " + strerror(errno);
      if (d >= 0) ::close(d);
    }
    files.clear();  // a rolled-over segment's file closes here, off the appenders' lock
    lock.lock();
    if (!error.empty()) spdlog::warn("agent outbox: {}", error);
    sync_error_ = error;
    synced_ = std::max(synced_, target);
    ++syncs_;
    syncing_ = false;
    synced_cv_.notify_all();
  }
}

uint64_t OutboxLog::SyncsForTest() const {
  std::lock_guard lock(mu_);
  return syncs_;
}

size_t OutboxLog::SegmentsForTest() const {
  std::lock_guard lock(mu_);
  return segments_.size();
}

}  // namespace autovibe
