// API tokens with a role and an optional project scope (DESIGN.md, `POST /v1/tokens`). A
// token's secret is shown once, at creation; only its SHA-256 is kept.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace autovibe {

// What a token may do, each role holding the ones below it: a viewer reads, an operator also
// acts on tasks, projects, budgets and checkpoints, an admin also manages the fleet (machines,
// secrets, tokens, join tokens).
enum class Role { kViewer = 0, kOperator = 1, kAdmin = 2 };

std::string_view ToString(Role r);
// "viewer", "operator", "admin"; nothing for anything else.
std::optional<Role> ParseRole(std::string_view name);

struct ApiToken {
  std::string name;  // 1-64 of [A-Za-z0-9._-], starting with a letter or digit; unique
  Role role = Role::kViewer;
  std::vector<std::string> projects;  // empty: every project
  std::string hash;                   // hex SHA-256 of the whole token ("avt_...")
  int64_t created_at_ms = 0;
  int64_t expires_at_ms = 0;    // 0: never
  int64_t last_used_at_ms = 0;  // 0: never used

  bool expired(int64_t now_ms) const { return expires_at_ms != 0 && now_ms >= expires_at_ms; }
};

}  // namespace autovibe
