// Tight input bounds for a task's LLM calls. Coding tools resend a growing conversation: most
// of each request is a prefix (model, system prompt, tools, earlier messages) that an earlier
// call of the same task already sent, and the provider reported that call's exact input
// tokens. The book keeps, per task, the reported input tokens of the requests it saw, keyed by
// a digest of the request's input parts; a new request's input is then bounded by the tokens
// of its longest known prefix plus the bytes that follow it (a token is at least a byte of the
// body), instead of by all its bytes.
//
// Digests are SHA-256, so a task cannot make two different prefixes look alike to lower its
// own bound. Prompt-cache markers (`cache_control`) move between calls without changing what
// is counted, so they are left out of the digests.
//
// Owner-thread only (the meter's).
#pragma once

#include <array>
#include <cstdint>
#include <deque>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "common/core/result.h"
#include "worker-agent/meter/api.h"

namespace autovibe::meter {

using PrefixDigest = std::array<uint8_t, 32>;

// What of a request body is input the provider counts, cut where a later request can extend it.
struct RequestShape {
  // prefixes[i]: the digest of the model, the preamble (system, tools, instructions, tool
  // choice) and the first i items of the conversation (messages, or the responses API's input).
  std::vector<PrefixDigest> prefixes;
  // rest_bytes[i]: the bytes of the body that prefixes[i] does not cover. Never less than the
  // raw bytes of what follows: the covered parts are measured decoded, which is never longer.
  std::vector<int64_t> rest_bytes;
  int64_t body_bytes = 0;
};

// Reads the shape of a request already known to be a JSON object (PlanCall has checked it).
// Errors: bad_request when the body is not JSON.
Result<RequestShape> ReadShape(Api api, std::string_view body);

class PrefixBook {
 public:
  // Added to every bound made from a known prefix: tokens the provider may count for the seam
  // between the known prefix and the new part.
  static constexpr int64_t kSeamTokens = 64;

  // Keeps at most `per_task` requests per task (the newest); a conversation only grows, so
  // the newest requests are the prefixes the next ones extend.
  // Keeps at most `max_tasks` tasks (the ones learnt of most lately): a finished task's
  // prefixes go when newer tasks need the room.
  explicit PrefixBook(size_t per_task = 16, size_t max_tasks = 1024)
      : per_task_(per_task), max_tasks_(max_tasks) {}

  // The most input tokens a request of this shape can count for `task`: the reported tokens
  // of its longest known prefix plus the bytes after it (plus kSeamTokens), or all its bytes
  // when no prefix is known.
  int64_t InputBound(const std::string& task, const RequestShape& shape) const;
  // How many bytes of the request no known prefix covers (all of them when none is known).
  int64_t UnknownBytes(const std::string& task, const RequestShape& shape) const;

  // The provider reported `input_tokens` (all input: uncached, cache writes and cache reads)
  // for the whole of a request of this shape.
  void Learn(const std::string& task, const RequestShape& shape, int64_t input_tokens);
  // The task's calls are over (its lease closed).
  void Forget(const std::string& task);

  size_t Size(const std::string& task) const;

 private:
  struct Known {
    PrefixDigest digest;
    int64_t tokens;
  };
  // The index of the longest prefix of `shape` this task has seen, and its tokens.
  std::pair<size_t, int64_t> Longest(const std::string& task, const RequestShape& shape) const;

  size_t per_task_;
  size_t max_tasks_;
  std::map<std::string, std::deque<Known>, std::less<>> tasks_;
  std::deque<std::string> task_order_;  // oldest first
};

}  // namespace autovibe::meter
