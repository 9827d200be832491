#include <array>
#include <utility>

#include "controller/model/api_token.h"

namespace autovibe {
namespace {

constexpr std::array<std::pair<Role, std::string_view>, 3> kRoleNames = {{
    {Role::kViewer, "viewer"},
    {Role::kOperator, "operator"},
    {Role::kAdmin, "admin"},
}};

}  // namespace

std::string_view ToString(Role r) {
  for (const auto& [role, name] : kRoleNames) {
    if (role == r) return name;
  }
  return "unknown";
}

std::optional<Role> ParseRole(std::string_view name) {
  for (const auto& [role, n] : kRoleNames) {
    if (n == name) return role;
  }
  return std::nullopt;
}

}  // namespace autovibe
