#include "cli/diff_stat.h"

#include <algorithm>

#include "cli/table.h"

namespace autovibe::cli {
namespace {

// A path of a "---"/"+++" line without its "a/" or "b/" (kept inside git's quotes).
std::string Unprefixed(std::string_view path) {
  const bool quoted = path.size() >= 2 && path.front() == '"';
  std::string_view inner = quoted ? path.substr(1) : path;
  if (inner.starts_with("a/") || inner.starts_with("b/")) inner.remove_prefix(2);
  return quoted ? "\"" + std::string(inner) : std::string(inner);
}

// The path of "diff --git a/P b/P" when both sides are the same path (no rename); else "".
std::string SamePath(std::string_view rest) {
  if (rest.size() < 5 || (rest.size() - 5) % 2 != 0 || !rest.starts_with("a/")) return "";
  const size_t n = (rest.size() - 5) / 2;
  const std::string_view a = rest.substr(2, n), b = rest.substr(n + 2);
  return b.starts_with(" b/") && b.substr(3) == a ? std::string(a) : "";
}

std::string Plural(uint64_t n, std::string_view one, std::string_view many) {
  return std::to_string(n) + " " + std::string(n == 1 ? one : many);
}

}  // namespace

std::vector<FileStat> ParseDiffStat(std::string_view diff) {
  std::vector<FileStat> files;
  std::string rename_from;
  bool in_hunk = false;
  size_t pos = 0;
  while (pos < diff.size()) {
    size_t end = diff.find('\n', pos);
    if (end == std::string_view::npos) end = diff.size();
    std::string_view line = diff.substr(pos, end - pos);
    pos = end + 1;
    if (line.starts_with("diff --git ")) {
      files.push_back(FileStat{SamePath(line.substr(11))});
      rename_from.clear();
      in_hunk = false;
      continue;
    }
    if (files.empty()) continue;
    FileStat& f = files.back();
    if (in_hunk) {
      // Hunk lines start with ' ', '+', '-' or '\'; whatever else comes ends the hunks.
      if (line.starts_with("+")) {
        ++f.insertions;
        continue;
      }
      if (line.starts_with("-")) {
        ++f.deletions;
        continue;
      }
      // (An empty line is a blank context line whose space an editor dropped.)
      if (line.empty() || line.starts_with(" ") || line.starts_with("\\") ||
          line.starts_with("@@")) {
        continue;
      }
      in_hunk = false;
    }
    if (line.starts_with("@@")) {
      in_hunk = true;
    } else if (line.starts_with("rename from ")) {
      rename_from = line.substr(12);
    } else if (line.starts_with("rename to ")) {
      f.path = rename_from + " => " + std::string(line.substr(10));
    } else if (line.starts_with("--- ") && f.path.empty() && line != "--- /dev/null") {
      f.path = Unprefixed(line.substr(4));
    } else if (line.starts_with("+++ ") && line != "+++ /dev/null" && rename_from.empty()) {
      f.path = Unprefixed(line.substr(4));
    } else if (line == "GIT binary patch" ||
               (line.starts_with("Binary files ") && line.ends_with(" differ"))) {
      f.binary = true;
    }
  }
  return files;
}

std::string ShortStat(uint64_t files, uint64_t insertions, uint64_t deletions) {
  if (files == 0) return "0 files changed";
  std::string out = Plural(files, "file changed", "files changed");
  if (insertions > 0 || deletions == 0) {
    out += ", " + Plural(insertions, "insertion(+)", "insertions(+)");
  }
  if (deletions > 0 || insertions == 0) {
    out += ", " + Plural(deletions, "deletion(-)", "deletions(-)");
  }
  return out;
}

void PrintDiffStat(std::ostream& out, const std::vector<FileStat>& files, size_t width) {
  size_t name_width = 0;
  uint64_t most = 0, insertions = 0, deletions = 0;
  bool binary = false;
  for (const FileStat& f : files) {
    name_width = std::max(name_width, DisplayWidth(f.path));
    most = std::max(most, f.insertions + f.deletions);
    insertions += f.insertions;
    deletions += f.deletions;
    binary = binary || f.binary;
  }
  const size_t count_width = std::max<size_t>(std::to_string(most).size(), binary ? 3 : 0);
  // " name | count bars": what is left of the line is the bars' room, ten columns at least.
  const size_t fixed = 1 + name_width + 3 + count_width + 1;
  const uint64_t room = width > fixed + 10 ? width - fixed : 10;
  for (const FileStat& f : files) {
    out << ' ' << f.path << std::string(name_width - DisplayWidth(f.path), ' ') << " | ";
    if (f.binary) {
      out << "Bin\n";
      continue;
    }
    const uint64_t changed = f.insertions + f.deletions;
    const std::string count = std::to_string(changed);
    out << std::string(count_width - count.size(), ' ') << count;
    uint64_t plus = f.insertions, minus = f.deletions;
    if (most > room && changed > 0) {
      // Scaled as git scales: every change that is there shows at least one mark.
      auto scale = [&](uint64_t n) { return n == 0 ? 0 : 1 + n * (room - 1) / most; };
      const uint64_t total = scale(changed);
      plus = scale(f.insertions);
      minus = total > plus ? total - plus : 0;
      if (f.deletions > 0 && minus == 0) minus = 1;
    }
    if (plus + minus > 0) out << ' ' << std::string(plus, '+') << std::string(minus, '-');
    out << '\n';
  }
  out << ' ' << ShortStat(files.size(), insertions, deletions) << '\n';
}

}  // namespace autovibe::cli
