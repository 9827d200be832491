// Who made an API request, as its bearer token says: the token's name, its role and the
// projects it is limited to.
#pragma once

#include <algorithm>
#include <string>
#include <string_view>
#include <vector>

#include "controller/model/api_token.h"  // Role

namespace autovibe {

struct Caller {
  std::string name;  // the token's name; "admin" for the bootstrap token
  Role role = Role::kViewer;
  std::vector<std::string> projects;  // empty: every project

  bool Sees(std::string_view project) const {
    return projects.empty() ||
           std::find(projects.begin(), projects.end(), project) != projects.end();
  }
};

}  // namespace autovibe
