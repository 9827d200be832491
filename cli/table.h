// Human output: aligned tables, "key: value" blocks, and short spellings of sizes and ages.
// Everything here is pure (no clock, no I/O beyond the stream it is given).
#pragma once

#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace autovibe::cli {

// Columns are left-aligned and separated by two spaces; no line ends in blanks. Widths count
// UTF-8 code points.
class Table {
 public:
  explicit Table(std::vector<std::string> headers);

  // A row with fewer cells than headers is padded with empty cells; extra cells are dropped.
  void AddRow(std::vector<std::string> cells);
  size_t rows() const { return rows_.size(); }

  void Print(std::ostream& out) const;

 private:
  std::vector<std::string> headers_;
  std::vector<std::vector<std::string>> rows_;
};

// Prints "key: value" lines with the values aligned one column after the longest key.
using KeyValues = std::vector<std::pair<std::string, std::string>>;
void PrintKeyValues(std::ostream& out, const KeyValues& lines);

// The number of UTF-8 code points in `text` (its width in a terminal for most scripts).
size_t DisplayWidth(std::string_view text);

// Binary units like `free -h`: 0 -> "0B", 1536 -> "1.5K", 3.1 GiB -> "3.1G", 512 MiB -> "512M".
std::string FormatBytes(uint64_t bytes);

// How long ago `then_ms` was at `now_ms` (Unix ms): "0s ago", "42s ago", "5m ago", "3h ago",
// "2d ago". Times in the future (clock skew) read "0s ago"; an unknown time (0) reads "-".
std::string FormatAgo(int64_t then_ms, int64_t now_ms);
// The same without " ago", for AGE columns: "42s", "5m", "3h", "2d".
std::string FormatAge(int64_t then_ms, int64_t now_ms);

// A span of time to the second, as a clock would count it: "0s", "42s", "1m12s", "2h3m"
// (hours drop the seconds). Negative spans read "0s".
std::string FormatElapsed(int64_t ms);

// `text` cut to at most `width` code points, ending in "..." when cut (blanks before the
// "..." are dropped).
std::string Truncate(std::string_view text, size_t width);

// ASCII letters upper-cased, for headers: "running" -> "RUNNING".
std::string Upper(std::string_view text);

// Joins items with `separator`: {"a", "b"} -> "a,b".
std::string Join(const std::vector<std::string>& items, std::string_view separator = ",");

}  // namespace autovibe::cli
