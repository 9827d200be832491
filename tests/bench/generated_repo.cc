#include "tests/bench/generated_repo.h"

#include <fmt/format.h>
#include <stdio.h>

#include <array>

#include "common/core/run_program.h"

namespace autovibe::bench {
namespace {

constexpr std::array<const char*, 24> kKeywords = {
    "int",    "return", "if",   "for",  "const", "auto",   "static",  "void",
    "struct", "while",  "else", "char", "=",     "==",     "+",       "->",
    "(",      ")",      "{",    "}",    ";",     "size_t", "nullptr", "break"};

uint64_t Mix(uint64_t x) {  // splitmix64
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

std::string FilePath(int file) { return fmt::format("src/d{:03}/f{:05}.c", file / 100, file); }

// Lines of code-like words, about `mean_bytes` long on average; each file and revision its own.
std::string FileText(int file, int rev, int mean_bytes) {
  uint64_t s = Mix(static_cast<uint64_t>(file) * 1000003ull + static_cast<uint64_t>(rev));
  const size_t size =
      static_cast<size_t>(mean_bytes / 2) + s % static_cast<uint64_t>(mean_bytes + 1);
  std::string text = fmt::format("// {} revision {}\n", FilePath(file), rev);
  while (text.size() < size) {
    s = Mix(s);
    text.append(2 * (s % 4), ' ');
    for (int w = 0, n = 4 + static_cast<int>(s % 8); w < n; ++w) {
      s = Mix(s);
      if (s % 3 == 0) {
        text += fmt::format("name{}", s % 1000);
      } else {
        text += kKeywords[s % kKeywords.size()];
      }
      text += w + 1 < n ? ' ' : '\n';
    }
  }
  return text;
}

void Data(FILE* out, const std::string& bytes) {
  fmt::print(out, "data {}\n", bytes.size());
  fwrite(bytes.data(), 1, bytes.size(), out);
  fputc('\n', out);
}

Result<std::string> Git(std::vector<std::string> args) {
  args.insert(args.begin(), "git");
  return RunProgram({.argv = std::move(args), .timeout = std::chrono::minutes(10)});
}

}  // namespace

Result<void> GenerateRepo(const std::string& dir, const RepoShape& shape) {
  if (auto r = Git({"init", "--quiet", "--bare", "--initial-branch=main", dir}); !r) {
    return r.error();
  }
  FILE* in = popen(("git --git-dir='" + dir + "' fast-import --quiet --done").c_str(), "w");
  if (in == nullptr) return MakeError(ErrorCode::kFailed, "cannot start git fast-import");
  for (int c = 0; c < shape.commits; ++c) {
    fmt::print(in, "commit refs/heads/main\ncommitter Bench <bench@example.org> {} +0000\n",
               1700000000 + 60 * c);
    Data(in, fmt::format("change {}\n", c));
    const uint64_t pick = Mix(static_cast<uint64_t>(c));
    const int touched = c == 0 ? shape.files : shape.changes_per_commit;
    for (int i = 0; i < touched; ++i) {
      const int file = c == 0 ? i : static_cast<int>(Mix(pick + i) % shape.files);
      fmt::print(in, "M 100644 inline {}\n", FilePath(file));
      Data(in, FileText(file, c, shape.file_bytes));
    }
  }
  fputs("done\n", in);
  if (pclose(in) != 0) return MakeError(ErrorCode::kFailed, "git fast-import failed");
  if (auto r = Git({"--git-dir=" + dir, "repack", "-a", "-d", "-q"}); !r) return r.error();
  return {};
}

GitDaemon::GitDaemon(const std::string& base, const std::string& log_path)
    : port_(testing::FreePort()),
      proc_({"git", "daemon", "--export-all", "--reuseaddr", "--informative-errors",
             "--listen=127.0.0.1", "--port=" + std::to_string(port_), "--base-path=" + base, base},
            log_path) {}

bool GitDaemon::Ready() {
  return testing::WaitUntil([&] { return testing::PortOpen(port_); }, std::chrono::seconds(10));
}

std::string GitDaemon::Url(const std::string& name) const {
  return "git://127.0.0.1:" + std::to_string(port_) + "/" + name;
}

}  // namespace autovibe::bench
