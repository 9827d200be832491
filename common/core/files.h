// Small file helpers with errors as values.
#pragma once

#include <sys/types.h>

#include <string>

#include "common/core/result.h"

namespace autovibe {

Result<std::string> ReadFile(const std::string& path);

// Writes `content` to `path` atomically (temp file + rename) with the given mode; durable
// (fsync before the rename) unless `sync` is false: then a crash of the machine, never of the
// program, may leave the old content.
Result<void> WriteFileAtomic(const std::string& path, const std::string& content, mode_t mode,
                             bool sync = true);

// Makes `path` mode 0600 (owner read and write only) whatever the umask and the directory's
// mode: creates it empty when missing and `create` is set, tightens it when it exists (its
// contents kept). For files others must never read (databases, keys, tokens) that some other
// code (SQLite, a tool) creates: made private before they hold anything.
Result<void> MakePrivateFile(const std::string& path, bool create = true);

// Creates `path` and its parents (like mkdir -p) with the given mode for new directories.
Result<void> MakeDirs(const std::string& path, mode_t mode = 0755);

// kIo: "<what> <path>: <strerror(errno)>", for a system call that just failed on `path` ("."
// when empty).
Error IoError(const std::string& what, const std::string& path);

}  // namespace autovibe
