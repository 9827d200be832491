// toml++'s compiled part, for a program linked without libtomlplusplus.so. Everything else is
// compiled against toml++ as a compiled library (TOML_HEADER_ONLY=0), whichever way it is
// linked.
#define TOML_IMPLEMENTATION
#include <toml++/toml.h>
