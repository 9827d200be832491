// `autovibe checkpoint export`: the archive streamed to a file that appears only whole, or to
// standard output, against a fake download transport.
#include <catch2/catch.hpp>
#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

#include "cli/checkpoint_export.h"
#include "cli/client.h"
#include "common/core/files.h"
#include "tests/support/process.h"

namespace autovibe::cli {
namespace {

namespace fs = std::filesystem;

// Answers every download with `pieces`, then `end`.
struct FakeDownload {
  std::vector<std::string> pieces;
  Result<HttpReply> end = HttpReply{200, "application/zstd", ""};
  std::vector<std::string> urls;

  Client MakeClient() {
    return Client(
        Endpoint{"http://ctl:8080", "tok"},
        [](const HttpCall&) -> Result<HttpReply> {
          return HttpReply{500, "", "unused"};
        },
        [](const HttpCall&, const SseHandler&) -> Result<SseReply> {
          return SseReply{500, "", "unused"};
        },
        [this](const HttpCall& call, const BodySink& sink) -> Result<HttpReply> {
          urls.push_back(call.url);
          if (end && end->status != 200) return end;
          for (const auto& p : pieces) {
            if (!sink(p)) break;
          }
          return end;
        });
  }
};

struct Run {
  CliStatus status;
  std::string out;
};

Run Export(FakeDownload& fake, const std::string& id, const std::string& output) {
  const Client client = fake.MakeClient();
  GlobalOptions options;
  std::ostringstream out;
  CommandContext ctx{client, options, out, 0};
  auto status = ExportCheckpoint(ctx, id, output);
  return {status, out.str()};
}

size_t Entries(const std::string& dir) {
  size_t n = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(dir)) ++n;
  return n;
}

TEST_CASE("cli checkpoint export: the archive lands whole in the file", "[cli]") {
  autovibe::testing::TempDir dir;
  FakeDownload fake{.pieces = {"tar+", "zstd ", "bytes"}};
  const std::string file = dir / "cp.tar.zst";
  Run r = Export(fake, "cp 1", file);
  REQUIRE(r.status);
  CHECK(*ReadFile(file) == "tar+zstd bytes");
  CHECK(r.out == "checkpoint cp 1 exported to " + file + " (14B)\n");
  REQUIRE(fake.urls.size() == 1);
  CHECK(fake.urls[0] == "http://ctl:8080/v1/checkpoints/cp%201/archive");
  CHECK(Entries(dir.path()) == 1);
}

TEST_CASE("cli checkpoint export -o -: the archive on standard output", "[cli]") {
  FakeDownload fake{.pieces = {"abc", "def"}};
  Run r = Export(fake, "cp-1", "-");
  REQUIRE(r.status);
  CHECK(r.out == "abcdef");
}

TEST_CASE("cli checkpoint export: a download cut off leaves no file and the old one as it was",
          "[cli]") {
  autovibe::testing::TempDir dir;
  const std::string file = dir / "cp.tar.zst";
  REQUIRE(WriteFileAtomic(file, "an older export", 0644));
  FakeDownload fake{.pieces = {"half ", "an archive"},
                    .end = MakeError(ErrorCode::kIo, "reading from ctl:8080: partial message")};
  Run r = Export(fake, "cp-1", file);
  REQUIRE_FALSE(r.status);
  CHECK(r.status.error().exit_code == kExitFailure);
  CHECK(r.status.error().message.find("broke off after 15 bytes") != std::string::npos);
  CHECK(*ReadFile(file) == "an older export");
  CHECK(Entries(dir.path()) == 1);
}

TEST_CASE("cli checkpoint export: the controller's refusal, and nothing written", "[cli]") {
  autovibe::testing::TempDir dir;
  const std::string file = dir / "cp.tar.zst";
  SECTION("unknown checkpoint") {
    FakeDownload fake{
        .end = HttpReply{404, "application/json",
                         R"({"error":{"code":"not_found","message":"no checkpoint cp-9"}})"}};
    Run r = Export(fake, "cp-9", file);
    REQUIRE_FALSE(r.status);
    CHECK(r.status.error().exit_code == kExitNotFound);
    CHECK(r.status.error().message == "no checkpoint cp-9");
  }
  SECTION("no holder reachable") {
    FakeDownload fake{.end = HttpReply{503, "application/json",
                                       R"({"error":{"code":"unavailable","message":"no machine )"
                                       R"(holding checkpoint cp-1 can be reached now"}})"}};
    Run r = Export(fake, "cp-1", file);
    REQUIRE_FALSE(r.status);
    CHECK(r.status.error().exit_code == kExitFailure);
    CHECK(r.status.error().message ==
          "503 unavailable: no machine holding checkpoint cp-1 can be reached now");
  }
  CHECK(Entries(dir.path()) == 0);
}

}  // namespace
}  // namespace autovibe::cli
