#include <stdlib.h>
#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "tests/support/process.h"
#include "worker-agent/host/tools.h"

namespace autovibe::host {
namespace {

namespace fs = std::filesystem;

using Names = std::vector<std::string>;

// A fresh directory to stand in for one PATH entry, removed with everything in it.
class BinDir {
 public:
  std::string str() const { return dir_.path(); }

  void AddFile(const std::string& name, mode_t mode) const {
    const fs::path file = fs::path(str()) / name;
    std::ofstream(file) << "#!/bin/sh\nexit 0\n";
    REQUIRE(chmod(file.c_str(), mode) == 0);
  }
  void AddDir(const std::string& name) const {
    REQUIRE(fs::create_directory(fs::path(str()) / name));
  }

 private:
  testing::TempDir dir_{"av-host-tools"};
};

TEST_CASE("FindTools reports only executable regular files", "[host]") {
  BinDir bin;
  bin.AddFile("claude", 0755);
  bin.AddFile("aider", 0644);
  bin.AddDir("codex");
  CHECK(FindTools(bin.str()) == Names{"claude-code", "shell"});
}

TEST_CASE("FindTools names tools as tasks do, not by their binaries", "[host]") {
  BinDir bin;
  bin.AddFile("claude-code", 0755);  // not the binary of any tool
  CHECK(FindTools(bin.str()) == Names{"shell"});
  bin.AddFile("claude", 0755);
  CHECK(FindTools(bin.str()) == Names{"claude-code", "shell"});
}

TEST_CASE("FindTools with an empty PATH has only the shell", "[host]") {
  CHECK(FindTools("") == Names{"shell"});
  CHECK(FindTools(":::") == Names{"shell"});
}

TEST_CASE("FindTools searches every PATH entry and sorts without duplicates", "[host]") {
  BinDir first;
  BinDir second;
  first.AddFile("codex", 0755);
  first.AddFile("claude", 0700);
  second.AddFile("aider", 0755);
  second.AddFile("claude", 0755);
  const std::string path = "/nonexistent-dir::" + first.str() + ":" + second.str() + ":";
  CHECK(FindTools(path) == Names{"aider", "claude-code", "codex", "shell"});
}

TEST_CASE("FindTools follows symlinks to executables only", "[host]") {
  BinDir bin;
  bin.AddFile("real-claude", 0755);
  bin.AddFile("real-aider", 0644);
  fs::create_symlink(fs::path(bin.str()) / "real-claude", fs::path(bin.str()) / "claude");
  fs::create_symlink(fs::path(bin.str()) / "real-aider", fs::path(bin.str()) / "aider");
  fs::create_symlink(fs::path(bin.str()) / "missing", fs::path(bin.str()) / "codex");
  CHECK(FindTools(bin.str()) == Names{"claude-code", "shell"});
}

TEST_CASE("FindTools ignores relative PATH entries", "[host]") {
  BinDir bin;
  bin.AddFile("claude", 0755);
  const fs::path old_cwd = fs::current_path();
  fs::current_path(bin.str());
  const Names found = FindTools(".:bin");
  fs::current_path(old_cwd);
  CHECK(found == Names{"shell"});
}

TEST_CASE("FindTools without arguments uses PATH", "[host]") {
  BinDir bin;
  bin.AddFile("aider", 0755);
  const char* old = getenv("PATH");
  const std::string saved = old == nullptr ? "" : old;
  REQUIRE(setenv("PATH", bin.str().c_str(), 1) == 0);
  const Names found = FindTools();
  REQUIRE(unsetenv("PATH") == 0);
  const Names found_unset = FindTools();
  if (old != nullptr) setenv("PATH", saved.c_str(), 1);
  CHECK(found == Names{"aider", "shell"});
  CHECK(found_unset == Names{"shell"});
}

}  // namespace
}  // namespace autovibe::host
