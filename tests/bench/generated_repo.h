// The repository bench's repository and its server: a generated history of many files, served
// by a real `git daemon` on loopback.
#pragma once

#include <cstdint>
#include <string>

#include "common/core/result.h"
#include "tests/support/process.h"

namespace autovibe::bench {

struct RepoShape {
  int files = 20000;      // in directories of 100
  int commits = 2000;     // the first adds every file; each later one changes a few
  int file_bytes = 2048;  // mean size of a file (text lines of code-like words)
  int changes_per_commit = 10;
};

// Makes the bare repository `dir` (branch main) of that shape in one `git fast-import` run
// (seconds, where committing one by one would take many minutes), then packs it as a server
// keeps it (`git repack -a -d`). Same shape, same commits. Errors: failed, with git's words.
Result<void> GenerateRepo(const std::string& dir, const RepoShape& shape);

// `git daemon` serving every repository under `base` (read only, git://) on a free loopback
// port, as this test's child; stopped with it.
class GitDaemon {
 public:
  GitDaemon(const std::string& base, const std::string& log_path);
  // Whether it accepts connections (waits for it up to 10 s).
  bool Ready();
  // git://127.0.0.1:PORT/<name>
  std::string Url(const std::string& name) const;

 private:
  uint16_t port_;
  testing::ChildProcess proc_;
};

}  // namespace autovibe::bench
