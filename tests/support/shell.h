// Test support: a shell line run to its end, for setting up git repositories and the like.
#pragma once

#include <catch2/catch.hpp>
#include <string>

#include "common/core/run_program.h"

namespace autovibe::testing {

// Runs `script` with sh -c; REQUIREs that it succeeds, and returns its standard output
// without trailing newlines.
inline std::string Sh(const std::string& script) {
  auto out = RunProgram({.argv = {"sh", "-c", script}, .stdout_apart = true});
  INFO(script);
  REQUIRE(out);
  std::string s = *out;
  while (!s.empty() && s.back() == '\n') s.pop_back();
  return s;
}

}  // namespace autovibe::testing
