#include <catch2/catch.hpp>
#include <sstream>

#include "cli/table.h"
#include "common/core/time.h"

namespace autovibe::cli {
namespace {

std::string Render(const Table& table) {
  std::ostringstream out;
  table.Print(out);
  return out.str();
}

}  // namespace

TEST_CASE("cli table: columns line up under their headers", "[cli]") {
  Table table({"ID", "NAME", "STATE"});
  table.AddRow({"m-1", "a-long-name", "ready"});
  table.AddRow({"m-22222", "b", "busy"});
  CHECK(Render(table) ==
        "ID       NAME         STATE\n"
        "m-1      a-long-name  ready\n"
        "m-22222  b            busy\n");
}

TEST_CASE("cli table: short rows are padded and no line ends in blanks", "[cli]") {
  Table table({"A", "B", "C"});
  table.AddRow({"x"});
  table.AddRow({"1", "2", "3", "dropped"});
  const std::string text = Render(table);
  CHECK(text ==
        "A  B  C\n"
        "x\n"
        "1  2  3\n");
  CHECK(table.rows() == 2);
}

TEST_CASE("cli table: a table without rows prints its header", "[cli]") {
  CHECK(Render(Table({"ID", "NAME"})) == "ID  NAME\n");
}

TEST_CASE("cli table: widths count code points, not bytes", "[cli]") {
  CHECK(DisplayWidth("abc") == 3);
  CHECK(DisplayWidth("h\xC3\xA9llo") == 5);  // "héllo"
  Table table({"N", "X"});
  table.AddRow({"\xC3\xA9", "1"});
  CHECK(Render(table) == "N  X\n\xC3\xA9  1\n");
}

TEST_CASE("cli key-values: values align one column after the longest key", "[cli]") {
  std::ostringstream out;
  PrintKeyValues(out, {{"id", "m-1"}, {"last heartbeat", "3s ago"}, {"empty", ""}});
  CHECK(out.str() ==
        "id:             m-1\n"
        "last heartbeat: 3s ago\n"
        "empty:\n");
}

TEST_CASE("cli format: bytes in binary units", "[cli]") {
  CHECK(FormatBytes(0) == "0B");
  CHECK(FormatBytes(1023) == "1023B");
  CHECK(FormatBytes(1024) == "1.0K");
  CHECK(FormatBytes(1536) == "1.5K");
  CHECK(FormatBytes(512ull << 20) == "512M");
  CHECK(FormatBytes(3328599654ull) == "3.1G");
  CHECK(FormatBytes(25125558272ull) == "23.4G");
  CHECK(FormatBytes(2ull << 40) == "2.0T");
  CHECK(FormatBytes(UINT64_MAX) == "16.0E");
}

TEST_CASE("cli format: ages", "[cli]") {
  const int64_t now = 1'800'000'000'000;
  constexpr int64_t kHour = 3'600'000, kDay = 24 * kHour;
  CHECK(FormatAgo(now, now) == "0s ago");
  CHECK(FormatAgo(now - 1'500, now) == "1s ago");
  CHECK(FormatAgo(now - 59'999, now) == "59s ago");
  CHECK(FormatAgo(now - 60'000, now) == "1m ago");
  CHECK(FormatAgo(now - 3 * kHour - 5, now) == "3h ago");
  CHECK(FormatAgo(now - 47 * kHour, now) == "47h ago");
  CHECK(FormatAgo(now - 3 * kDay, now) == "3d ago");
  CHECK(FormatAgo(now + 5'000, now) == "0s ago");  // clock skew
  CHECK(FormatAgo(0, now) == "-");
}

TEST_CASE("cli format: RFC 3339 timestamps", "[cli]") {
  CHECK(ParseRfc3339Ms("1970-01-01T00:00:00Z") == 0);
  CHECK(ParseRfc3339Ms("2026-11-22T01:39:42.123Z") == 1795311582123);
  CHECK(ParseRfc3339Ms("2026-11-22T01:39:42Z") == 1795311582000);
  CHECK(ParseRfc3339Ms("2026-11-22T01:39:42.1Z") == 1795311582100);
  CHECK(ParseRfc3339Ms("2026-11-22T03:39:42.123+02:00") == 1795311582123);
  CHECK(ParseRfc3339Ms("2026-11-21T23:39:42.123-02:00") == 1795311582123);
  CHECK_FALSE(ParseRfc3339Ms(""));
  CHECK_FALSE(ParseRfc3339Ms("2026-11-22"));
  CHECK(ParseRfc3339Ms("2026-11-22", DateAlone::kMidnightUtc) == 1795305600000);
  CHECK_FALSE(ParseRfc3339Ms("2026-11-22T01:39:42"));  // no zone
  CHECK_FALSE(ParseRfc3339Ms("2026-02-30T01:39:42Z"));
  CHECK_FALSE(ParseRfc3339Ms("2026-11-22T01:39:42.Z"));
  CHECK_FALSE(ParseRfc3339Ms("2026-11-22T01:39:42Zjunk"));
}

TEST_CASE("cli format: join", "[cli]") {
  CHECK(Join({}) == "");
  CHECK(Join({"a"}) == "a");
  CHECK(Join({"", "b"}) == ",b");
  CHECK(Join({"a", "b"}, ", ") == "a, b");
}

}  // namespace autovibe::cli
