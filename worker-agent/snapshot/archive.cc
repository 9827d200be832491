#include "worker-agent/snapshot/archive.h"

#include <archive.h>
#include <archive_entry.h>
#include <locale.h>

#include <optional>
#include <utility>
#include <vector>

#include "worker-agent/snapshot/limits.h"
#include "worker-agent/snapshot/tree.h"

namespace autovibe::snapshot {
namespace {

// One directory on the way down: its tree, the next entry to write, and the length of the
// path without it.
struct Frame {
  v1::Tree tree;
  int next = 0;
  size_t parent_len = 0;
};

// libarchive converts names from the thread's locale to the UTF-8 a pax header holds. In the
// C locale every byte past ASCII fails (it then keeps the bytes with a "hdrcharset=BINARY" that
// GNU tar warns about); in C.UTF-8 only names that are not UTF-8 do. The locale is the calling
// thread's own (uselocale), for as long as the writer works: the rest of the agent keeps its.
class Utf8Locale {
 public:
  Utf8Locale() : utf8_(newlocale(LC_CTYPE_MASK, "C.UTF-8", static_cast<locale_t>(0))) {
    if (utf8_ != static_cast<locale_t>(0)) previous_ = uselocale(utf8_);
  }
  ~Utf8Locale() {
    if (utf8_ == static_cast<locale_t>(0)) return;
    uselocale(previous_);
    freelocale(utf8_);
  }
  Utf8Locale(const Utf8Locale&) = delete;
  Utf8Locale& operator=(const Utf8Locale&) = delete;

 private:
  locale_t utf8_;
  locale_t previous_ = static_cast<locale_t>(0);
};

}  // namespace

struct ArchiveWriter::State {
  explicit State(const ChunkStore& s) : store(s) {}
  ~State() {
    if (entry != nullptr) archive_entry_free(entry);
    if (a != nullptr) archive_write_free(a);
  }

  // libarchive hands every byte it writes here.
  static la_ssize_t Append(struct archive*, void* self, const void* buf, size_t n) {
    static_cast<State*>(self)->out.append(static_cast<const char*>(buf), n);
    return static_cast<la_ssize_t>(n);
  }

  Error Failed(const std::string& what) const {
    const char* why = a != nullptr ? archive_error_string(a) : nullptr;
    return MakeError(ErrorCode::kFailed, "archive: " + what + ": " + (why ? why : "failed"));
  }

  const ChunkStore& store;
  struct archive* a = nullptr;
  struct archive_entry* entry = nullptr;
  std::string out;  // made and not yet handed out
  std::vector<Frame> frames;
  std::string dir;  // the path of the directory on top of `frames` ("" for the workspace)
  // The file being written: its entry, path, next chunk, and bytes so far.
  std::optional<v1::TreeEntry> file;
  std::string file_path;
  int next_chunk = 0;
  uint64_t file_bytes = 0;
  std::optional<Error> failed;
  bool closed = false;
};

ArchiveWriter::ArchiveWriter(std::unique_ptr<State> state) : s_(std::move(state)) {}
ArchiveWriter::~ArchiveWriter() = default;

Result<std::unique_ptr<ArchiveWriter>> ArchiveWriter::Open(const ChunkStore& store,
                                                           const v1::CheckpointManifest& manifest,
                                                           ArchiveOptions options) {
  Utf8Locale locale;
  auto s = std::make_unique<State>(store);
  auto root = LoadTree(store, manifest.root(), "");
  if (!root) return root.error();
  s->frames.push_back(Frame{std::move(*root), 0, 0});
  s->a = archive_write_new();
  s->entry = archive_entry_new();
  if (s->a == nullptr || s->entry == nullptr) {
    return MakeError(ErrorCode::kFailed, "archive: out of memory");
  }
  const std::string level = std::to_string(options.zstd_level);
  // No blocking of the output: each piece goes out as it is made, and the end is not padded.
  if (archive_write_set_format_pax_restricted(s->a) != ARCHIVE_OK ||
      archive_write_add_filter_zstd(s->a) != ARCHIVE_OK ||
      archive_write_set_filter_option(s->a, "zstd", "compression-level", level.c_str()) !=
          ARCHIVE_OK ||
      archive_write_set_bytes_per_block(s->a, 0) != ARCHIVE_OK ||
      archive_write_open2(s->a, s.get(), nullptr, &State::Append, nullptr, nullptr) != ARCHIVE_OK) {
    return s->Failed("cannot start");
  }
  return std::unique_ptr<ArchiveWriter>(new ArchiveWriter(std::move(s)));
}

bool ArchiveWriter::done() const { return s_->closed && s_->out.empty(); }

Result<std::string> ArchiveWriter::Next(size_t max_bytes) {
  if (max_bytes == 0) max_bytes = 1;
  Utf8Locale locale;
  while (!s_->failed && !s_->closed && s_->out.size() < max_bytes) {
    if (auto r = Step(); !r) s_->failed = r.error();
  }
  if (s_->failed) return *s_->failed;
  const size_t n = std::min(max_bytes, s_->out.size());
  std::string piece = s_->out.substr(0, n);
  s_->out.erase(0, n);
  position_ += n;
  return piece;
}

Result<void> ArchiveWriter::Step() {
  State& s = *s_;
  if (s.file) {
    const auto& chunks = s.file->chunks();
    if (s.next_chunk == chunks.size()) {
      if (s.file_bytes != s.file->size()) {
        return MakeError(ErrorCode::kCorrupt, ShortPath(s.file_path) + ": its chunks hold " +
                                                  std::to_string(s.file_bytes) + " bytes, not " +
                                                  std::to_string(s.file->size()));
      }
      s.file.reset();
      if (archive_write_finish_entry(s.a) < ARCHIVE_WARN) return s.Failed(s.file_path);
      return {};
    }
    const v1::ChunkRef& ref = chunks[s.next_chunk++];
    auto hash = HashFromBytes(ref.hash());  // well formed: LoadTree judged the tree
    auto data = s.store.Get(*hash);
    if (!data) {
      return MakeError(data.error().code, ShortPath(s.file_path) + ": " + data.error().message);
    }
    s.file_bytes += data->size();
    if (data->size() != ref.size() || s.file_bytes > s.file->size()) {
      return MakeError(ErrorCode::kCorrupt,
                       ShortPath(s.file_path) + ": a chunk's size differs from the manifest's");
    }
    if (!data->empty() && archive_write_data(s.a, data->data(), data->size()) < 0) {
      return s.Failed(s.file_path);
    }
    return {};
  }
  while (!s.frames.empty() && s.frames.back().next == s.frames.back().tree.entries_size()) {
    s.dir.resize(s.frames.back().parent_len);
    s.frames.pop_back();
  }
  if (s.frames.empty()) {
    if (archive_write_close(s.a) != ARCHIVE_OK) return s.Failed("cannot end");
    s.closed = true;
    return {};
  }
  Frame& top = s.frames.back();
  const v1::TreeEntry& e = top.tree.entries(top.next++);
  const std::string path = JoinPath(s.dir, e.name());
  if (path.size() > kMaxPathBytes) return TooLong(path);

  archive_entry_clear(s.entry);
  archive_entry_copy_pathname(s.entry, path.c_str());
  const int64_t ns = e.mtime_ns();
  const int64_t sec = ns >= 0 ? ns / 1'000'000'000 : -((-ns + 999'999'999) / 1'000'000'000);
  archive_entry_set_mtime(s.entry, sec, static_cast<long>(ns - sec * 1'000'000'000));
  archive_entry_set_perm(s.entry, e.mode() & 07777);
  std::optional<v1::Tree> child;
  switch (e.kind()) {
    case v1::TreeEntry::DIRECTORY: {
      if (static_cast<int>(s.frames.size()) > kMaxDepth) return TooDeep(path);
      auto tree = LoadTree(s.store, e.tree(), path);
      if (!tree) return tree.error();
      child = std::move(*tree);
      archive_entry_set_filetype(s.entry, AE_IFDIR);
      break;
    }
    case v1::TreeEntry::SYMLINK:
      archive_entry_set_filetype(s.entry, AE_IFLNK);
      archive_entry_set_perm(s.entry, 0777);
      archive_entry_copy_symlink(s.entry, e.target().c_str());
      break;
    default:  // FILE: LoadTree lets no other kind through
      archive_entry_set_filetype(s.entry, AE_IFREG);
      archive_entry_set_size(s.entry, static_cast<la_int64_t>(e.size()));
      s.file = e;
      s.file_path = path;
      s.next_chunk = 0;
      s.file_bytes = 0;
      break;
  }
  if (archive_write_header(s.a, s.entry) < ARCHIVE_WARN) return s.Failed(path);
  if (child) {
    const size_t parent_len = s.dir.size();
    s.dir = path;
    s.frames.push_back(Frame{std::move(*child), 0, parent_len});
  } else if (!s.file && archive_write_finish_entry(s.a) < ARCHIVE_WARN) {
    return s.Failed(path);
  }
  return {};
}

}  // namespace autovibe::snapshot
