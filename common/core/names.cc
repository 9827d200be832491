#include "common/core/names.h"

#include <cctype>

namespace autovibe {

bool ValidMachineName(std::string_view name) {
  if (name.empty() || name.size() > 63) return false;
  if (!std::isalnum(static_cast<unsigned char>(name[0]))) return false;
  for (char c : name) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-')) {
      return false;
    }
  }
  return true;
}

bool ValidSubjectToken(std::string_view token) {
  if (token.empty()) return false;
  for (char c : token) {
    if (c == '.' || c == '*' || c == '>' || std::isspace(static_cast<unsigned char>(c)) ||
        std::iscntrl(static_cast<unsigned char>(c))) {
      return false;
    }
  }
  return true;
}

bool ValidLogLevel(std::string_view level) {
  return level == "trace" || level == "debug" || level == "info" || level == "warn" ||
         level == "error";
}

}  // namespace autovibe
