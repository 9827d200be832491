// The title and body of a task's pull request: what a reviewer wants to see first. Pure.
//
// Text from the task (its prompt, the tool's summary, check names) is the tool's and the
// user's, not ours: it is shown as code (fenced blocks, inline code), where the forge renders
// no HTML, no images, no links and no @mentions that would notify people.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace autovibe {

struct PullRequestCheck {
  std::string name;  // "unit tests", "make test"
  bool passed = false;
  std::string detail;  // optional: "12 passed", an exit code
};

// What the task's pull request tells. Empty or unset fields are left out.
struct PullRequestReport {
  std::string task_id;
  std::string project;
  std::string tool;
  std::string title;    // the task's own title, when it has one
  std::string prompt;   // or the command, joined with spaces
  std::string summary;  // the tool's summary of what it did
  std::optional<int64_t> turns;
  std::optional<int64_t> cost_micros;  // micro-dollars
  std::vector<PullRequestCheck> checks;
  std::string base_commit, head_commit;
  std::optional<int64_t> files_changed, insertions, deletions;
};

inline constexpr size_t kMaxPullRequestTitle = 120;    // GitHub allows 256; reviewers read 70
inline constexpr size_t kMaxPullRequestBody = 60'000;  // GitHub refuses more than 65536

// The task's title, else the first line of its prompt, else "autovibe task <id>"; blanks and
// control characters folded, at most kMaxPullRequestTitle bytes (cut on a character).
std::string PullRequestTitle(const PullRequestReport& report);

// Markdown: the prompt, the tool's summary, turns, cost, checks and the change's size, each
// long text cut so that the whole stays within `max_bytes`.
std::string PullRequestBody(const PullRequestReport& report,
                            size_t max_bytes = kMaxPullRequestBody);

}  // namespace autovibe
