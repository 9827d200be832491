// Whether the Codex CLI tests can run: `codex` on PATH (scripts/install-deps.sh installs it).
#pragma once

#include <catch2/catch.hpp>
#include <cstdlib>
#include <string>

namespace autovibe::testing {

// True when `codex` is on PATH. Else the test fails saying how to install it, unless
// AUTOVIBE_SKIP_CODEX=1: then false with a warning, and the caller returns.
inline bool CodexInstalled() {
  if (std::system("command -v codex >/dev/null 2>&1") == 0) return true;
  const char* skip = std::getenv("AUTOVIBE_SKIP_CODEX");
  if (skip != nullptr && std::string(skip) == "1") {
    WARN("skipped: no `codex` on PATH and AUTOVIBE_SKIP_CODEX=1");
    return false;
  }
  FAIL(
      "the Codex CLI (`codex`) is not on PATH: run scripts/install-deps.sh (npm install -g "
      "@openai/codex), or set AUTOVIBE_SKIP_CODEX=1 to skip this test");
  return false;
}

}  // namespace autovibe::testing
