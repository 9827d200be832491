// The files an adapter asks for in the task's home (codex's config.toml), written by the runner
// before the tool starts: where they land, their modes, and what a hostile earlier attempt
// (which owned that home) may have left in the way.
#include "worker-agent/runner/tool_files.h"

#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "tests/support/catch_result.h"
#include "tests/support/process.h"

namespace autovibe::runner {
namespace {

namespace fs = std::filesystem;
using testing::TempDir;

std::string Slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

mode_t ModeOf(const std::string& path) {
  struct stat st {};
  REQUIRE(lstat(path.c_str(), &st) == 0);
  return st.st_mode & 07777;
}

tools::ToolLaunch CodexLike() {
  tools::ToolLaunch launch;
  launch.env["OPENAI_API_KEY"] = "task-token";
  launch.files.push_back({"codex/config.toml", "model_provider = \"autovibe\"\n"});
  launch.home_dirs["CODEX_HOME"] = "codex";
  return launch;
}

TEST_CASE("tool files land in the task's home, private, and their variables name it",
          "[runner][tools]") {
  TempDir dir("av-tool-files");
  const std::string home = dir / "homes/t-1";
  tools::ToolLaunch launch = CodexLike();
  REQUIRE(PlaceToolFiles(home, launch));
  CHECK(Slurp(home + "/codex/config.toml") == "model_provider = \"autovibe\"\n");
  CHECK(ModeOf(home) == 0700);
  CHECK(ModeOf(home + "/codex") == 0700);
  CHECK(ModeOf(home + "/codex/config.toml") == 0600);
  CHECK(launch.env.at("CODEX_HOME") == home + "/codex");
  CHECK(launch.env.at("OPENAI_API_KEY") == "task-token");

  // Again (the next attempt): the file is replaced, not appended to.
  launch.files[0].content = "x = 1\n";
  REQUIRE(PlaceToolFiles(home, launch));
  CHECK(Slurp(home + "/codex/config.toml") == "x = 1\n");

  // A launch that asks for nothing makes nothing.
  tools::ToolLaunch plain;
  REQUIRE(PlaceToolFiles(dir / "homes/t-2", plain));
  CHECK_FALSE(fs::exists(dir / "homes/t-2"));
}

TEST_CASE("tool files are never written through links an earlier attempt left in the home",
          "[runner][tools][hostile]") {
  TempDir dir("av-tool-files");
  const std::string home = dir / "home";
  const std::string outside = dir / "outside";
  fs::create_directories(home);
  fs::create_directories(outside);
  std::ofstream(outside + "/precious") << "keep me\n";

  SECTION("the directory is a symlink out of the home") {
    fs::create_directory_symlink(outside, home + "/codex");
    tools::ToolLaunch launch = CodexLike();
    auto r = PlaceToolFiles(home, launch);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == ErrorCode::kIo);
    CHECK_FALSE(fs::exists(outside + "/config.toml"));
  }
  SECTION("the file is a symlink or a hard link to a file outside") {
    fs::create_directories(home + "/codex");
    const bool hard = GENERATE(false, true);
    if (hard) {
      fs::create_hard_link(outside + "/precious", home + "/codex/config.toml");
    } else {
      fs::create_symlink(outside + "/precious", home + "/codex/config.toml");
    }
    tools::ToolLaunch launch = CodexLike();
    REQUIRE(PlaceToolFiles(home, launch));
    CHECK(Slurp(home + "/codex/config.toml") == "model_provider = \"autovibe\"\n");
    CHECK_FALSE(fs::is_symlink(home + "/codex/config.toml"));
  }
  CHECK(Slurp(outside + "/precious") == "keep me\n");
}

TEST_CASE("tool file paths outside the home are refused and write nothing", "[runner][tools]") {
  TempDir dir("av-tool-files");
  const std::string home = dir / "home";
  for (const std::string bad : {"", "/etc/passwd", "../escape", "a/../../b", "a//b", "./a", "a/"}) {
    INFO(bad);
    tools::ToolLaunch launch;
    launch.files.push_back({bad, "x"});
    auto r = PlaceToolFiles(home, launch);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == ErrorCode::kBadTask);
    tools::ToolLaunch by_var;
    by_var.home_dirs["CODEX_HOME"] = bad;
    CHECK_FALSE(PlaceToolFiles(home, by_var));
    CHECK(by_var.env.count("CODEX_HOME") == 0);
  }
  CHECK_FALSE(fs::exists(dir / "escape"));
}

}  // namespace
}  // namespace autovibe::runner
