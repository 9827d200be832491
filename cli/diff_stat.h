// What a unified diff changes, file by file, read from its text, and printed the way
// `git diff --stat` prints it.
#pragma once

#include <cstdint>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

namespace autovibe::cli {

struct FileStat {
  std::string path;  // "old => new" for a rename
  uint64_t insertions = 0;
  uint64_t deletions = 0;
  bool binary = false;
};

// The files of a diff as `git diff` writes it ("diff --git" headers; hunks after "@@"), in
// order. Text that is no git diff gives no files.
std::vector<FileStat> ParseDiffStat(std::string_view diff);

// git's summary line: "1 file changed, 2 insertions(+), 1 deletion(-)" (a count of 0 is left
// out when the other is not 0, as git does); "0 files changed" for none.
std::string ShortStat(uint64_t files, uint64_t insertions, uint64_t deletions);

// " calc.sh | 2 +-" per file, the bars scaled to fit `width` columns, then the summary line,
// as `git diff --stat` prints them.
void PrintDiffStat(std::ostream& out, const std::vector<FileStat>& files, size_t width = 80);

}  // namespace autovibe::cli
