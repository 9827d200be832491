// autovibe: the command-line client of the controller's HTTP API.
#include <iostream>

#include "cli/app.h"

int main(int argc, char** argv) {
  autovibe::cli::Invocation inv;
  auto app = autovibe::cli::BuildApp(inv);
  if (auto code = autovibe::cli::ParseCommandLine(*app, argc, argv, std::cout, std::cerr)) {
    return *code;
  }
  return autovibe::cli::Run(inv, std::cout, std::cerr);
}
