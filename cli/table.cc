#include "cli/table.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <chrono>
#include <cstdio>

namespace autovibe::cli {
namespace {

void PrintRow(std::ostream& out, const std::vector<std::string>& cells,
              const std::vector<size_t>& widths) {
  std::string line;
  for (size_t i = 0; i < cells.size(); ++i) {
    line += cells[i];
    if (i + 1 < cells.size()) line.append(widths[i] - DisplayWidth(cells[i]) + 2, ' ');
  }
  // Empty trailing cells would leave blanks at the end of the line.
  line.erase(line.find_last_not_of(' ') + 1);
  out << line << '\n';
}

}  // namespace

Table::Table(std::vector<std::string> headers) : headers_(std::move(headers)) {}

void Table::AddRow(std::vector<std::string> cells) {
  cells.resize(headers_.size());
  rows_.push_back(std::move(cells));
}

void Table::Print(std::ostream& out) const {
  std::vector<size_t> widths(headers_.size());
  for (size_t i = 0; i < headers_.size(); ++i) widths[i] = DisplayWidth(headers_[i]);
  for (const auto& row : rows_) {
    for (size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], DisplayWidth(row[i]));
  }
  PrintRow(out, headers_, widths);
  for (const auto& row : rows_) PrintRow(out, row, widths);
}

void PrintKeyValues(std::ostream& out, const KeyValues& lines) {
  size_t width = 0;
  for (const auto& [key, value] : lines) width = std::max(width, DisplayWidth(key));
  for (const auto& [key, value] : lines) {
    out << key << ':';
    if (!value.empty()) out << std::string(width - DisplayWidth(key) + 1, ' ') << value;
    out << '\n';
  }
}

size_t DisplayWidth(std::string_view text) {
  // Continuation bytes look like 10xxxxxx; every other byte starts a code point.
  return static_cast<size_t>(std::count_if(text.begin(), text.end(), [](char c) {
    return (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  }));
}

std::string FormatBytes(uint64_t bytes) {
  static constexpr std::array<char, 6> kUnits = {'K', 'M', 'G', 'T', 'P', 'E'};
  if (bytes < 1024) return std::to_string(bytes) + "B";
  double value = static_cast<double>(bytes);
  size_t unit = 0;
  value /= 1024;
  while (value >= 1024 && unit + 1 < kUnits.size()) {
    value /= 1024;
    ++unit;
  }
  char buf[32];
  // Three significant digits at most: "1.5K", "23.4G", "512M".
  if (value < 99.95) {
    std::snprintf(buf, sizeof buf, "%.1f%c", value, kUnits[unit]);
  } else {
    std::snprintf(buf, sizeof buf, "%.0f%c", value, kUnits[unit]);
  }
  return buf;
}

std::string FormatAgo(int64_t then_ms, int64_t now_ms) {
  const std::string age = FormatAge(then_ms, now_ms);
  return age == "-" ? age : age + " ago";
}

std::string FormatAge(int64_t then_ms, int64_t now_ms) {
  if (then_ms <= 0) return "-";
  constexpr int64_t kMinute = 60, kHour = 60 * kMinute, kDay = 24 * kHour;
  const int64_t secs = std::max<int64_t>(0, now_ms - then_ms) / 1000;
  if (secs < kMinute) return std::to_string(secs) + "s";
  if (secs < kHour) return std::to_string(secs / kMinute) + "m";
  // Hours up to two days: "30h" says more than "1d".
  if (secs < 2 * kDay) return std::to_string(secs / kHour) + "h";
  return std::to_string(secs / kDay) + "d";
}

std::string FormatElapsed(int64_t ms) {
  const int64_t secs = std::max<int64_t>(0, ms) / 1000;
  const int64_t h = secs / 3600, m = secs / 60 % 60, s = secs % 60;
  if (h > 0) return std::to_string(h) + "h" + std::to_string(m) + "m";
  if (m > 0) return std::to_string(m) + "m" + std::to_string(s) + "s";
  return std::to_string(s) + "s";
}

std::string Truncate(std::string_view text, size_t width) {
  if (DisplayWidth(text) <= width) return std::string(text);
  constexpr std::string_view kEllipsis = "...";
  const size_t keep = width > kEllipsis.size() ? width - kEllipsis.size() : 0;
  // Cut before the first byte of code point number `keep`, never inside one.
  size_t points = 0, pos = 0;
  for (; pos < text.size(); ++pos) {
    const bool starts_point = (static_cast<unsigned char>(text[pos]) & 0xC0) != 0x80;
    if (starts_point && points++ == keep) break;
  }
  std::string kept(text.substr(0, pos));
  // "a long..." reads better than "a long ...".
  while (!kept.empty() && kept.back() == ' ') kept.pop_back();
  return kept + std::string(kEllipsis.substr(0, width - keep));
}

std::string Upper(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

std::string Join(const std::vector<std::string>& items, std::string_view separator) {
  std::string out;
  for (size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out += separator;
    out += items[i];
  }
  return out;
}

}  // namespace autovibe::cli
