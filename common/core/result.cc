#include "common/core/result.h"

#include <array>
#include <stdexcept>
#include <utility>

namespace autovibe {
namespace {

constexpr std::array<std::pair<ErrorCode, std::string_view>, 27> kNames = {{
    {ErrorCode::kBadRequest, "bad_request"},
    {ErrorCode::kBadConfig, "bad_config"},
    {ErrorCode::kNotFound, "not_found"},
    {ErrorCode::kConflict, "conflict"},
    {ErrorCode::kUnauthorized, "unauthorized"},
    {ErrorCode::kMethodNotAllowed, "method_not_allowed"},
    {ErrorCode::kTooLarge, "too_large"},
    {ErrorCode::kUnsupported, "unsupported"},
    {ErrorCode::kUnavailable, "unavailable"},
    {ErrorCode::kNoResponders, "no_responders"},
    {ErrorCode::kTimeout, "timeout"},
    {ErrorCode::kIo, "io"},
    {ErrorCode::kStore, "store"},
    {ErrorCode::kCorrupt, "corrupt"},
    {ErrorCode::kHostileManifest, "hostile_manifest"},
    {ErrorCode::kIncomplete, "incomplete"},
    {ErrorCode::kBadData, "bad_data"},
    {ErrorCode::kTls, "tls"},
    {ErrorCode::kBadUrl, "bad_url"},
    {ErrorCode::kBadTask, "bad_task"},
    {ErrorCode::kBusy, "busy"},
    {ErrorCode::kDraining, "draining"},
    {ErrorCode::kBudgetExhausted, "budget_exhausted"},
    {ErrorCode::kUnknownModel, "unknown_model"},
    {ErrorCode::kFailed, "failed"},
    {ErrorCode::kRepoUnavailable, "repo_unavailable"},
    {ErrorCode::kInternal, "internal"},
}};

// Spellings that drifted before the codes were one set, as older agents may still send them.
constexpr std::array<std::pair<std::string_view, ErrorCode>, 4> kOldNames = {{
    {"timed_out", ErrorCode::kTimeout},
    {"invalid_request", ErrorCode::kBadRequest},
    {"unreachable", ErrorCode::kUnavailable},
    {"bad_duration", ErrorCode::kBadRequest},
}};

}  // namespace

std::string_view ErrorName(ErrorCode c) {
  for (const auto& [code, name] : kNames) {
    if (code == c) return name;
  }
  return "internal";
}

std::optional<ErrorCode> ParseErrorCode(std::string_view name) {
  for (const auto& [code, n] : kNames) {
    if (n == name) return code;
  }
  for (const auto& [n, code] : kOldNames) {
    if (n == name) return code;
  }
  return std::nullopt;
}

void throw_exception_from_error(const Error& e, const boost::source_location&) {
  // Only reached when code calls value() on an error without checking: a programming error.
  throw std::runtime_error(std::string(ErrorName(e.code)) + ": " + e.message);
}

}  // namespace autovibe
