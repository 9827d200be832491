// What every fuzz target shares: how it is declared, how it reads its input, and a scratch
// directory for the real stores it drives.
//
//   AV_FUZZ_TARGET(config_toml) { ... uses `data` and `size` ... }
//
// In the fuzzing build (-DAUTOVIBE_FUZZ=ON, ./scripts/fuzz.sh) this is the target's
// LLVMFuzzerTestOneInput, linked into a libFuzzer program of its own. In the normal build
// every target joins one replay program (replay_main.cc) that runs each file of a target's
// corpus through it, so ctest fails on any input that once crashed.
#pragma once

#include <google/protobuf/stubs/logging.h>
#include <spdlog/spdlog.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <string>
#include <string_view>

namespace autovibe::fuzz {

using TargetFn = int (*)(const uint8_t* data, size_t size);

// Replay build: a target known by name (replay_main.cc).
struct TargetEntry {
  TargetEntry(const char* name, TargetFn fn);
};

// Reads a fuzz input front to back: small choices from its first bytes, the rest as a payload.
// Reading past the end gives zeros and empty strings, never an error.
class Input {
 public:
  Input(const uint8_t* data, size_t size) : rest_(reinterpret_cast<const char*>(data), size) {}

  uint8_t Byte() {
    if (rest_.empty()) return 0;
    const auto b = static_cast<uint8_t>(rest_.front());
    rest_.remove_prefix(1);
    return b;
  }
  // One of `n` choices.
  size_t Pick(size_t n) { return n == 0 ? 0 : Byte() % n; }
  // A piece ended by '\n' (or the input's end), without the '\n'.
  std::string_view Line() {
    const size_t end = rest_.find('\n');
    std::string_view line = rest_.substr(0, end);
    rest_.remove_prefix(end == std::string_view::npos ? rest_.size() : end + 1);
    return line;
  }
  std::string_view Rest() {
    std::string_view all = rest_;
    rest_ = {};
    return all;
  }

 private:
  std::string_view rest_;
};

// With AV_FUZZ_SHOW=1 in the environment, targets say what became of each input on stderr
// (to check that seeds reach what they are meant to).
inline bool Showing() {
  static const bool show = std::getenv("AV_FUZZ_SHOW") != nullptr;
  return show;
}
inline void Show(std::string_view what) {
  if (Showing()) std::fprintf(stderr, "  -> %.*s\n", static_cast<int>(what.size()), what.data());
}

// The programs (and protobuf, of strings that are not UTF-8) log what they make of hostile
// input: millions of lines, and time, for nothing. Shown with AV_FUZZ_SHOW.
inline const bool kQuiet = [] {
  if (!Showing()) {
    spdlog::set_level(spdlog::level::off);
    google::protobuf::SetLogHandler(nullptr);
  }
  return true;
}();

// A directory of the process's own, in memory when /dev/shm is there (the stores write and
// sync at every input), removed at exit.
inline const std::string& ScratchDir() {
  static const std::string dir = [] {
    std::string base = std::filesystem::is_directory("/dev/shm") ? "/dev/shm" : "/tmp";
    std::string pattern = base + "/autovibe-fuzz-XXXXXX";
    if (mkdtemp(pattern.data()) == nullptr) {
      std::perror("mkdtemp");
      std::abort();
    }
    static std::string removed = pattern;
    std::atexit([] {
      std::error_code ec;
      std::filesystem::remove_all(removed, ec);
    });
    return pattern;
  }();
  return dir;
}

}  // namespace autovibe::fuzz

#define AV_FUZZ_CONCAT2(a, b) a##b
#define AV_FUZZ_CONCAT(a, b) AV_FUZZ_CONCAT2(a, b)

#ifdef AV_FUZZ_REPLAY
#define AV_FUZZ_TARGET(name)                                                     \
  static int AV_FUZZ_CONCAT(FuzzOne_, name)(const uint8_t* data, size_t size);   \
  static const ::autovibe::fuzz::TargetEntry AV_FUZZ_CONCAT(registered_, name){  \
      #name, &AV_FUZZ_CONCAT(FuzzOne_, name)};                                   \
  static void AV_FUZZ_CONCAT(FuzzBody_, name)(const uint8_t* data, size_t size); \
  static int AV_FUZZ_CONCAT(FuzzOne_, name)(const uint8_t* data, size_t size) {  \
    AV_FUZZ_CONCAT(FuzzBody_, name)(data, size);                                 \
    return 0;                                                                    \
  }                                                                              \
  static void AV_FUZZ_CONCAT(FuzzBody_, name)(const uint8_t* data, size_t size)
#else
#define AV_FUZZ_TARGET(name)                                                     \
  static void AV_FUZZ_CONCAT(FuzzBody_, name)(const uint8_t* data, size_t size); \
  extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {      \
    AV_FUZZ_CONCAT(FuzzBody_, name)(data, size);                                 \
    return 0;                                                                    \
  }                                                                              \
  static void AV_FUZZ_CONCAT(FuzzBody_, name)(const uint8_t* data, size_t size)
#endif
