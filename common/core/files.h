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

// Creates `path` and its parents (like mkdir -p) with the given mode for new directories.
Result<void> MakeDirs(const std::string& path, mode_t mode = 0755);

// kIo: "<what> <path>: <strerror(errno)>", for a system call that just failed on `path` ("."
// when empty).
Error IoError(const std::string& what, const std::string& path);

}  // namespace autovibe
