#include "cli/checkpoint_export.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/json/object.hpp>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <optional>

#include "cli/client.h"
#include "cli/json_output.h"
#include "cli/table.h"

namespace autovibe::cli {
namespace {

CliError FileError(const std::string& what, const std::string& path) {
  return CliError{kExitFailure, "cannot " + what + " " + path + ": " + std::strerror(errno)};
}

// A file being written under a temporary name beside its own: Commit() puts it in place; the
// destructor removes what was not committed.
class PartialFile {
 public:
  explicit PartialFile(std::string path)
      : path_(std::move(path)), temp_(path_ + ".partial-XXXXXX") {}
  ~PartialFile() {
    if (fd_ >= 0) ::close(fd_);
    if (!committed_ && fd_ != -1) ::unlink(temp_.c_str());
  }

  CliStatus Open() {
    fd_ = ::mkstemp(temp_.data());
    if (fd_ < 0) {
      fd_ = -1;
      return FileError("create a file beside", path_);
    }
    // What a new file gets from the umask (mkstemp makes it 0600).
    const mode_t mask = ::umask(0);
    ::umask(mask);
    ::fchmod(fd_, 0666 & ~mask);
    return {};
  }

  bool Write(std::string_view data) {
    while (!data.empty()) {
      const ssize_t n = ::write(fd_, data.data(), data.size());
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        error_ = FileError("write", temp_);
        return false;
      }
      data.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }

  CliStatus Commit() {
    if (::fsync(fd_) != 0) return FileError("write", temp_);
    if (::rename(temp_.c_str(), path_.c_str()) != 0) return FileError("write", path_);
    committed_ = true;
    return {};
  }

  const std::optional<CliError>& error() const { return error_; }

 private:
  std::string path_;
  std::string temp_;
  int fd_ = -2;  // -2: not opened (nothing to remove)
  bool committed_ = false;
  std::optional<CliError> error_;
};

}  // namespace

CliStatus ExportCheckpoint(CommandContext& ctx, const std::string& id, const std::string& output) {
  const Client patient = ctx.client.WithTimeout(std::chrono::minutes(11));
  const std::string path = "/v1/checkpoints/" + PathSegment(id) + "/archive";
  if (output == "-") {
    return patient.Download(path, [&](std::string_view piece) {
      ctx.out.write(piece.data(), static_cast<std::streamsize>(piece.size()));
      return static_cast<bool>(ctx.out);
    });
  }
  const std::string file = output.empty() ? id + ".tar.zst" : output;
  PartialFile out(file);
  if (auto r = out.Open(); !r) return r;
  uint64_t bytes = 0;
  auto got = patient.Download(path, [&](std::string_view piece) {
    bytes += piece.size();
    return out.Write(piece);
  });
  if (out.error()) return *out.error();
  if (!got) return got;
  if (auto r = out.Commit(); !r) return r;
  if (ctx.options.json) {
    PrintJson(ctx.out, boost::json::object{{"checkpoint", id}, {"file", file}, {"bytes", bytes}});
  } else {
    ctx.out << "checkpoint " << id << " exported to " << file << " (" << FormatBytes(bytes)
            << ")\n";
  }
  return {};
}

}  // namespace autovibe::cli
