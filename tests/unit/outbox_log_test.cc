// The agent's outbox on disk (worker-agent/runner/outbox_log.h) in a temporary directory:
// framing, group fsync, segments dropped once released, torn tails and damaged entries.
#include "worker-agent/runner/outbox_log.h"

#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <thread>

#include "tests/support/process.h"

namespace autovibe {
namespace {

namespace fs = std::filesystem;
using Kind = OutboxEntryKind;

std::vector<fs::path> Segments(const std::string& dir) {
  std::vector<fs::path> out;
  for (const auto& e : fs::directory_iterator(dir)) out.push_back(e.path());
  std::sort(out.begin(), out.end());
  return out;
}

std::string Bytes(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

std::vector<std::string> Payloads(const std::vector<OutboxLog::Entry>& entries) {
  std::vector<std::string> out;
  for (const auto& e : entries) out.push_back(e.payload);
  return out;
}

std::unique_ptr<OutboxLog> OpenLog(const std::string& dir, OutboxLog::Recovered& found,
                                   OutboxLogOptions o = {}) {
  o.dir = dir;
  auto log = OutboxLog::Open(o, found);
  REQUIRE(log);
  return std::move(*log);
}

}  // namespace

TEST_CASE("the outbox log keeps what was appended, in order, for the next start (0600 files)") {
  testing::TempDir tmp;
  const std::string dir = tmp / "outbox";
  {
    OutboxLog::Recovered found;
    auto log = OpenLog(dir, found);
    CHECK(found.entries.empty());
    REQUIRE(log->Append(Kind::kEvent, "one", true));
    REQUIRE(log->Append(Kind::kFallback, "two", true));
    REQUIRE(log->Append(Kind::kAcked, "one", false));
    REQUIRE(log->Append(Kind::kEvent, std::string(70'000, 'x'), true));
    // Written as each returns: a crash of the agent now (no destructor, no sync) loses nothing.
    const auto segments = Segments(dir);
    REQUIRE(segments.size() == 1);
    auto read = ReadOutboxSegment(Bytes(segments[0]));
    CHECK(Payloads(read.entries) ==
          std::vector<std::string>{"one", "two", "one", std::string(70'000, 'x')});
    struct stat st {};
    REQUIRE(stat(segments[0].c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0600);
    REQUIRE(stat(dir.c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0700);
  }
  OutboxLog::Recovered found;
  auto log = OpenLog(dir, found);
  REQUIRE(found.entries.size() == 4);
  CHECK(found.entries[1].kind == Kind::kFallback);
  CHECK(found.entries[2].kind == Kind::kAcked);
  CHECK(found.cut_bytes == 0);
  CHECK(found.skipped_entries == 0);
  // Until DropRecovered the old segment stays: a crash while re-appending loses nothing.
  CHECK(Segments(dir).size() == 2);
  REQUIRE(log->Append(Kind::kEvent, "again", true));
  REQUIRE(log->DropRecovered());
  REQUIRE(Segments(dir).size() == 1);
  CHECK(Payloads(ReadOutboxSegment(Bytes(Segments(dir)[0])).entries) ==
        std::vector<std::string>{"again"});
}

TEST_CASE("the outbox log syncs appends in groups, off the appending thread") {
  testing::TempDir tmp;
  OutboxLog::Recovered found;
  auto log = OpenLog(tmp / "outbox", found);
  REQUIRE(log->Sync());
  const uint64_t before = log->SyncsForTest();
  // Four threads append 2,000 entries as fast as they can: far fewer fdatasyncs than entries,
  // each covering the group appended while the previous one ran.
  std::vector<std::thread> writers;
  for (int w = 0; w < 4; ++w) {
    writers.emplace_back([&log, w] {
      for (int i = 0; i < 500; ++i) {
        REQUIRE(log->Append(Kind::kEvent, "w" + std::to_string(w) + "-" + std::to_string(i), true));
      }
    });
  }
  for (auto& t : writers) t.join();
  REQUIRE(log->Sync());
  const uint64_t syncs = log->SyncsForTest() - before;
  INFO("fdatasyncs for 2000 appends: " << syncs);
  CHECK(syncs >= 1);
  CHECK(syncs < 1000);
  // Nothing appended: nothing more to sync, the sync thread sleeps.
  const uint64_t idle = log->SyncsForTest();
  std::this_thread::sleep_for(std::chrono::milliseconds(20));  // a quiet spell, not a sync point
  CHECK(log->SyncsForTest() == idle);
}

TEST_CASE("the outbox log deletes segments once what they hold is released, oldest first") {
  testing::TempDir tmp;
  const std::string dir = tmp / "outbox";
  OutboxLog::Recovered found;
  auto log = OpenLog(dir, found, {.segment_bytes = 1000, .idle_roll_bytes = 500});
  std::vector<OutboxLog::Ref> refs;
  for (int i = 0; i < 30; ++i) {
    auto ref = log->Append(Kind::kEvent, std::string(100, 'a' + i % 26), true);
    REQUIRE(ref);
    refs.push_back(*ref);
  }
  CHECK(Segments(dir).size() >= 3);
  // The first entry pins its segment, and with it every later one (the log is read in order).
  for (size_t i = 1; i < refs.size(); ++i) log->Release(refs[i]);
  CHECK(Segments(dir).size() >= 3);
  log->Release(refs[0]);
  // Only the segment being written stays, and it rolls over once nothing live is in it.
  REQUIRE(Segments(dir).size() == 1);
  CHECK(log->SegmentsForTest() == 1);
  REQUIRE(log->Sync());
  OutboxLog::Recovered again;
  log.reset();
  auto reopened = OpenLog(dir, again);
  CHECK(again.entries.size() < 5);  // the released ones did not come back
}

TEST_CASE("a torn tail is cut at the last whole entry") {
  testing::TempDir tmp;
  const std::string dir = tmp / "outbox";
  fs::create_directories(dir);
  const std::string whole =
      OutboxFrame(Kind::kEvent, "first") + OutboxFrame(Kind::kEvent, "second");
  const std::string torn = OutboxFrame(Kind::kEvent, "third, cut by a crash");
  for (size_t cut = 1; cut < torn.size(); cut += 7) {
    std::ofstream(dir + "/outbox-000000000001.log", std::ios::binary | std::ios::trunc)
        << whole << torn.substr(0, cut);
    OutboxLog::Recovered found;
    auto log = OpenLog(dir, found);
    CHECK(Payloads(found.entries) == std::vector<std::string>{"first", "second"});
    CHECK(found.cut_bytes == cut);
    CHECK(found.skipped_entries == 0);
    REQUIRE(log->DropRecovered());
    REQUIRE(log->Append(Kind::kEvent, "after", true));
    log.reset();
    // The new segment holds no trace of the torn entry.
    OutboxLog::Recovered next;
    auto reopened = OpenLog(dir, next);
    CHECK(Payloads(next.entries) == std::vector<std::string>{"after"});
    CHECK(next.cut_bytes == 0);
    reopened.reset();
    for (const auto& p : Segments(dir)) fs::remove(p);
  }
}

TEST_CASE("a damaged entry is skipped and counted, the entries after it are kept", "[outbox]") {
  std::string bytes = OutboxFrame(Kind::kEvent, "first") +
                      OutboxFrame(Kind::kEvent, "second, damaged on disk") +
                      OutboxFrame(Kind::kAcked, "third");
  SECTION("a flipped payload byte") {
    bytes[OutboxFrame(Kind::kEvent, "first").size() + 12] ^= 0x20;
  }
  SECTION("a damaged length") { bytes[OutboxFrame(Kind::kEvent, "first").size() + 1] = '\x7f'; }
  SECTION("a damaged kind") { bytes[OutboxFrame(Kind::kEvent, "first").size() + 8] = '\x09'; }
  OutboxSegmentRead read = ReadOutboxSegment(bytes);
  CHECK(Payloads(read.entries) == std::vector<std::string>{"first", "third"});
  CHECK(read.entries[1].kind == Kind::kAcked);
  CHECK(read.skipped_entries == 1);
  CHECK(read.skipped_bytes == OutboxFrame(Kind::kEvent, "second, damaged on disk").size());
  CHECK(read.good_bytes == bytes.size());
}

TEST_CASE("garbage is no entry") {
  CHECK(ReadOutboxSegment("").entries.empty());
  OutboxSegmentRead read = ReadOutboxSegment(std::string(5000, '\0'));
  CHECK(read.entries.empty());
  CHECK(read.good_bytes == 0);
}

}  // namespace autovibe
