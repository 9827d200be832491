#include "controller/publish/pull_request_text.h"

#include <fmt/format.h>

#include <algorithm>

#include "common/core/text.h"

namespace autovibe {
namespace {

constexpr size_t kMaxChecks = 50;
constexpr size_t kMaxInline = 200;

// At most `n` bytes of `s`, cut before a UTF-8 character's continuation bytes.
std::string_view CutUtf8(std::string_view s, size_t n) {
  if (s.size() <= n) return s;
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
  return s.substr(0, n);
}

// Valid UTF-8 without control characters but newlines and tabs (kept when `lines`).
std::string Clean(std::string_view s, bool lines) {
  std::string out;
  for (char c : ValidUtf8(s)) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '\r') continue;
    if (c == '\n' || c == '\t') {
      out += lines ? c : ' ';
    } else if (u >= 0x20 && u != 0x7F) {
      out += c;
    }
  }
  return out;
}

// `text` as code inline: one line, no backtick that would end it.
std::string InlineCode(std::string_view text) {
  std::string s = Clean(text, false);
  std::replace(s.begin(), s.end(), '`', '\'');
  std::string_view cut = CutUtf8(s, kMaxInline);
  return "`" + std::string(cut) + (cut.size() < s.size() ? "..." : "") + "`";
}

// `text` as a fenced block: the fence is longer than any run of backticks inside, so nothing
// in the text can end it early (CommonMark). Cut to `cap` bytes.
std::string Fenced(std::string_view text, size_t cap) {
  std::string s = Clean(text, true);
  const size_t whole = s.size();
  s = std::string(CutUtf8(s, cap));
  size_t longest = 0, run = 0;
  for (char c : s) {
    run = c == '`' ? run + 1 : 0;
    longest = std::max(longest, run);
  }
  const std::string fence(std::max<size_t>(3, longest + 1), '`');
  std::string out = fence + "text\n" + s;
  if (!s.empty() && s.back() != '\n') out += '\n';
  out += fence + "\n";
  if (s.size() < whole) out += fmt::format("*(cut: {} more bytes)*\n", whole - s.size());
  return out;
}

std::string Dollars(int64_t micros) {
  return fmt::format("${}.{:04}", micros / 1'000'000, (micros % 1'000'000) / 100);
}

std::string Build(const PullRequestReport& r, size_t prompt_cap, size_t summary_cap) {
  std::string out = "Opened by autovibe";
  if (!r.task_id.empty()) out += " for task " + InlineCode(r.task_id);
  std::vector<std::string> about;
  if (!r.project.empty()) about.push_back("project " + InlineCode(r.project));
  if (!r.tool.empty()) about.push_back("tool " + InlineCode(r.tool));
  if (!about.empty()) out += " (" + fmt::format("{}", fmt::join(about, ", ")) + ")";
  out += ".\n";
  if (!r.prompt.empty()) out += "\n### Prompt\n\n" + Fenced(r.prompt, prompt_cap);
  if (!r.summary.empty()) out += "\n### Summary\n\n" + Fenced(r.summary, summary_cap);

  std::vector<std::pair<std::string, std::string>> run;
  if (r.turns) run.emplace_back("Turns", std::to_string(*r.turns));
  if (r.cost_micros) run.emplace_back("Cost", Dollars(*r.cost_micros));
  if (r.files_changed) {
    run.emplace_back("Changes", fmt::format("{} file{}, +{} -{}", *r.files_changed,
                                            *r.files_changed == 1 ? "" : "s",
                                            r.insertions.value_or(0), r.deletions.value_or(0)));
  }
  if (!r.base_commit.empty() && !r.head_commit.empty()) {
    run.emplace_back("Commits", InlineCode(r.base_commit.substr(0, 12)) + ".." +
                                    InlineCode(r.head_commit.substr(0, 12)));
  }
  if (!run.empty()) {
    out += "\n### Run\n\n| | |\n|---|---|\n";
    for (const auto& [k, v] : run) out += fmt::format("| {} | {} |\n", k, v);
  }
  if (!r.checks.empty()) {
    out += "\n### Checks\n\n";
    const size_t shown = std::min(r.checks.size(), kMaxChecks);
    for (size_t i = 0; i < shown; ++i) {
      const PullRequestCheck& c = r.checks[i];
      out += std::string(c.passed ? "- passed: " : "- **failed**: ") + InlineCode(c.name);
      if (!c.detail.empty()) out += " " + InlineCode(c.detail);
      out += "\n";
    }
    if (shown < r.checks.size()) {
      out += fmt::format("- ... and {} more\n", r.checks.size() - shown);
    }
  }
  return out;
}

}  // namespace

std::string PullRequestTitle(const PullRequestReport& r) {
  std::string_view source = r.title;
  if (source.find_first_not_of(" \t\r\n") == std::string_view::npos) source = r.prompt;
  source.remove_prefix(std::min(source.size(), source.find_first_not_of(" \t\r\n")));
  std::string line = Clean(source.substr(0, source.find('\n')), false);
  while (!line.empty() && line.back() == ' ') line.pop_back();
  if (line.empty()) return "autovibe task " + Clean(r.task_id, false);
  if (line.size() <= kMaxPullRequestTitle) return line;
  return std::string(CutUtf8(line, kMaxPullRequestTitle - 3)) + "...";
}

std::string PullRequestBody(const PullRequestReport& r, size_t max_bytes) {
  size_t prompt_cap = max_bytes, summary_cap = max_bytes;
  for (int i = 0; i < 8; ++i) {
    std::string body = Build(r, prompt_cap, summary_cap);
    if (body.size() <= max_bytes) return body;
    // Cut the longer of the two texts by what is too much, and a little for the note saying so.
    const size_t over = body.size() - max_bytes + 64;
    const size_t prompt = std::min(prompt_cap, r.prompt.size());
    const size_t summary = std::min(summary_cap, r.summary.size());
    if (prompt >= summary) {
      prompt_cap = prompt > over ? prompt - over : 0;
    } else {
      summary_cap = summary > over ? summary - over : 0;
    }
  }
  // Only the fixed parts are left, and they are too long for `max_bytes`.
  return std::string(CutUtf8(Build(r, 0, 0), max_bytes));
}

}  // namespace autovibe
