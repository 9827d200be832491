// Benchmark output: one JSON object per line on stdout (figures), progress on stderr.
#pragma once

#include <fmt/format.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace autovibe::bench {

// Builds one flat JSON object. Keys keep the order they were added in.
class JsonLine {
 public:
  JsonLine& Str(std::string_view key, std::string_view value);
  JsonLine& Int(std::string_view key, int64_t value);
  // Fixed decimals with trailing zeros trimmed; NaN and infinities become null.
  JsonLine& Num(std::string_view key, double value, int decimals = 3);
  JsonLine& Bool(std::string_view key, bool value);

  std::string str() const { return "{" + body_ + "}"; }
  // Writes the line to stdout and flushes, so a pipe sees each figure as it is measured.
  void Print() const;

 private:
  void Key(std::string_view key);
  std::string body_;
};

// Median of the values (mean of the two middle ones for an even count); NaN when empty.
double Median(std::vector<double> values);
// The value at percentile `p` (0-100) by nearest rank; NaN when empty.
double Percentile(std::vector<double> values, double p);

// Human progress on stderr.
template <class... Args>
void Progress(fmt::format_string<Args...> format, Args&&... args) {
  fmt::print(stderr, "[bench] {}\n", fmt::format(format, std::forward<Args>(args)...));
  std::fflush(stderr);
}

}  // namespace autovibe::bench
