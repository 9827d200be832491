// Checks of a task's prompt and options, and the provider environment, shared by the adapters.
#include <algorithm>
#include <charconv>
#include <string>

#include "worker-agent/tools/builtin.h"

namespace autovibe::tools {
namespace {

constexpr size_t kMaxQuotedBytes = 300;
constexpr std::string_view kResumePrompt =
    "You were stopped part way (your budget ran out or your project was stopped) and may go on "
    "now. Continue the task from where you stopped. The task was: ";

bool IsBlank(std::string_view s) {
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return c == ' ' || (c >= '\t' && c <= '\r'); });
}

bool IsModelChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         std::string_view("._-:/@").find(c) != std::string_view::npos;
}

std::string Join(std::initializer_list<std::string_view> names) {
  std::string out;
  for (std::string_view n : names) {
    if (!out.empty()) out += ", ";
    out += n;
  }
  return out.empty() ? "none" : out;
}

}  // namespace

Error BadTask(std::string_view tool, std::string_view message) {
  return MakeError(ErrorCode::kBadTask, std::string(tool) + ": " + std::string(message));
}

Result<void> CheckOptionNames(std::string_view tool, const v1::RunTask& task,
                              std::initializer_list<std::string_view> allowed) {
  for (const auto& [name, value] : task.options()) {
    if (std::find(allowed.begin(), allowed.end(), name) == allowed.end()) {
      return BadTask(tool, "unknown option \"" + name + "\" (options: " + Join(allowed) + ")");
    }
  }
  return {};
}

Result<std::string> RequirePrompt(std::string_view tool, const v1::RunTask& task) {
  if (IsBlank(task.prompt())) return BadTask(tool, "a prompt is required");
  return task.prompt();
}

Result<PromptTask> ReadPromptTask(std::string_view tool, const v1::RunTask& task,
                                  std::initializer_list<std::string_view> allowed) {
  if (auto r = CheckOptionNames(tool, task, allowed); !r) return r.error();
  auto prompt = RequirePrompt(tool, task);
  if (!prompt) return prompt.error();
  auto model = ModelOption(tool, task);
  if (!model) return model.error();
  return PromptTask{std::move(*prompt), std::move(*model)};
}

Result<std::optional<std::string>> ModelOption(std::string_view tool, const v1::RunTask& task) {
  auto it = task.options().find("model");
  if (it == task.options().end()) return std::optional<std::string>();
  const std::string& model = it->second;
  if (model.empty() || model.size() > 200 || model.front() == '-' ||
      !std::all_of(model.begin(), model.end(), IsModelChar)) {
    return BadTask(tool, "option model must be a model id such as claude-sonnet-4-5, got \"" +
                             model.substr(0, 200) + "\"");
  }
  return std::optional<std::string>(model);
}

Result<std::optional<uint32_t>> PositiveIntOption(std::string_view tool, const v1::RunTask& task,
                                                  const std::string& name) {
  auto it = task.options().find(name);
  if (it == task.options().end()) return std::optional<uint32_t>();
  const std::string& text = it->second;
  uint32_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size() || value == 0) {
    return BadTask(
        tool, "option " + name + " must be a positive integer, got \"" + text.substr(0, 40) + "\"");
  }
  return std::optional<uint32_t>(value);
}

std::string ResumePrompt(std::string_view prompt) {
  return std::string(kResumePrompt) + std::string(prompt);
}

std::string Quote(std::string_view text) {
  size_t n = std::min(text.size(), kMaxQuotedBytes);
  while (n < text.size() && n > 0 && (static_cast<unsigned char>(text[n]) & 0xC0) == 0x80) --n;
  std::string out(text.substr(0, n));
  std::replace(out.begin(), out.end(), '\n', ' ');
  return n < text.size() ? out + "..." : out;
}

std::map<std::string, std::string> ProviderEnv(const ProviderAccess& access) {
  std::map<std::string, std::string> env;
  auto set = [&env](const char* name, const std::string& value) {
    if (!value.empty()) env[name] = value;
  };
  set("ANTHROPIC_BASE_URL", access.anthropic_base_url);
  set("ANTHROPIC_API_KEY", access.anthropic_api_key);
  set("OPENAI_BASE_URL", access.openai_base_url);
  set("OPENAI_API_KEY", access.openai_api_key);
  return env;
}

}  // namespace autovibe::tools
