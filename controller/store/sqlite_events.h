// Reading the events table: the columns every query of it selects, and the rows as events.
// Shared by the store's event queries and the task store's history of a task.
#pragma once

#include <string>
#include <vector>

#include "controller/model/event.h"
#include "controller/store/sqlite_stmt.h"

namespace autovibe {

// SELECT this, then read the rows with ReadEvents.
inline const std::string kEventColumns =
    "seq, at, kind, COALESCE(machine_id, ''), detail, COALESCE(task_id, ''), project";

inline std::vector<StoredEvent> ReadEvents(Stmt& st) {
  std::vector<StoredEvent> out;
  while (st.Step() == SQLITE_ROW) {
    out.push_back(
        {st.Int(0), st.Int(1), st.Text(2), st.Text(3), st.Text(4), st.Text(5), st.Text(6)});
  }
  return out;
}

}  // namespace autovibe
