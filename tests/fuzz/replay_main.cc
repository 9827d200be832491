// The replay program of the normal build: `fuzz_replay TARGET DIR` runs every file under DIR
// (the target's corpus: seeds and the minimized inputs of past findings) through the target
// once. A crash, a sanitizer report or an abort fails it, and with it ctest.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <string>
#include <vector>

#include "tests/fuzz/fuzz_target.h"

namespace autovibe::fuzz {

static std::map<std::string, TargetFn>& Targets() {
  static std::map<std::string, TargetFn> targets;
  return targets;
}

TargetEntry::TargetEntry(const char* name, TargetFn fn) { Targets()[name] = fn; }

}  // namespace autovibe::fuzz

int main(int argc, char** argv) {
  using namespace autovibe::fuzz;
  if (argc != 3) {
    std::fprintf(stderr, "usage: fuzz_replay TARGET CORPUS_DIR\ntargets:");
    for (const auto& [name, fn] : Targets()) std::fprintf(stderr, " %s", name.c_str());
    std::fprintf(stderr, "\n");
    return 2;
  }
  auto it = Targets().find(argv[1]);
  if (it == Targets().end()) {
    std::fprintf(stderr, "fuzz_replay: no target %s\n", argv[1]);
    return 2;
  }
  std::vector<std::filesystem::path> files;
  std::error_code ec;
  for (const auto& e : std::filesystem::recursive_directory_iterator(argv[2], ec)) {
    if (e.is_regular_file()) files.push_back(e.path());
  }
  if (ec || files.empty()) {
    std::fprintf(stderr, "fuzz_replay: no corpus in %s\n", argv[2]);
    return 1;
  }
  std::sort(files.begin(), files.end());
  for (const auto& f : files) {
    std::ifstream in(f, std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::fprintf(stderr, "%s\n", f.c_str());
    it->second(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
  }
  std::printf("fuzz_replay %s: %zu inputs replayed\n", argv[1], files.size());
  return 0;
}
