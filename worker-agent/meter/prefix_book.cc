#include "worker-agent/meter/prefix_book.h"

#include <openssl/sha.h>

#include <algorithm>
#include <boost/json/basic_parser_impl.hpp>
#include <cstring>
#include <optional>

#include "worker-agent/meter/sax_limits.h"

// OpenSSL's own SHA-256 functions: the same code EVP runs, without starting its provider
// machinery in the agent (see worker-agent/snapshot/hash.cc). Deprecated, still part of 3.0.
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"

namespace autovibe::meter {
namespace {

namespace json = boost::json;
using boost::system::error_code;

// Event tags in a digest's input: each event is its bytes, then its tag and its length, so
// two different event sequences never feed the same bytes.
enum Tag : uint8_t {
  kString = 1,
  kKey,
  kNumber,
  kTrue,
  kFalse,
  kNull,
  kObjectBegin,
  kObjectEnd,
  kArrayBegin,
  kArrayEnd,
};

class Digest {
 public:
  Digest() { SHA256_Init(&ctx_); }
  void Add(const void* data, size_t n) { SHA256_Update(&ctx_, data, n); }
  void End(Tag tag, uint64_t length) {
    uint8_t trailer[9];
    trailer[0] = tag;
    std::memcpy(trailer + 1, &length, 8);
    Add(trailer, sizeof trailer);
  }
  PrefixDigest Finish() {
    PrefixDigest d{};
    SHA256_Final(d.data(), &ctx_);
    return d;
  }

 private:
  SHA256_CTX ctx_;
};

// The parts of a request that are input, digested while the body is parsed once.
struct Parts {
  // Preamble members by name (in name order, whatever their order in the body).
  std::map<std::string, PrefixDigest, std::less<>> preamble;
  std::vector<PrefixDigest> items;
  int64_t covered_bytes = 0;  // decoded size of everything digested
  std::vector<int64_t> item_bytes;
  int64_t preamble_bytes = 0;
};

bool IsPreamble(Api api, std::string_view key) {
  if (key == "model" || key == "system" || key == "tools" || key == "tool_choice") return true;
  return api == Api::kResponses && key == "instructions";
}

std::string_view ConversationKey(Api api) { return api == Api::kResponses ? "input" : "messages"; }

class Shaper : public SaxNoLimits {
 public:
  Shaper(Api api, Parts& out) : api_(api), out_(out) {}

  bool on_document_begin(error_code&) { return true; }
  bool on_document_end(error_code&) { return true; }
  bool on_object_begin(error_code&) { return Open(kObjectBegin); }
  bool on_object_end(std::size_t, error_code&) { return Close(kObjectEnd); }
  bool on_array_begin(error_code&) { return Open(kArrayBegin); }
  bool on_array_end(std::size_t, error_code&) { return Close(kArrayEnd); }
  bool on_key_part(json::string_view s, std::size_t, error_code&) {
    key_.append(s.data(), s.size());
    return true;
  }
  bool on_key(json::string_view s, std::size_t n, error_code&) {
    key_.append(s.data(), s.size());
    if (depth_ == 1) {
      top_key_ = key_;
    } else if (digest_ && !skip_depth_) {
      // A prompt-cache marker moves between calls without changing what is counted.
      if (key_ == "cache_control") {
        skip_next_ = true;
      } else {
        digest_->Add(key_.data(), key_.size());
        digest_->End(kKey, n);
        out_bytes_ += static_cast<int64_t>(n);
      }
    }
    key_.clear();
    return true;
  }
  bool on_string_part(json::string_view s, std::size_t, error_code&) {
    if (!in_string_) {
      in_string_ = true;
      string_live_ = Begin();
    }
    if (string_live_) digest_->Add(s.data(), s.size());
    return true;
  }
  bool on_string(json::string_view s, std::size_t n, error_code&) {
    if (!in_string_) string_live_ = Begin();
    in_string_ = false;
    if (!string_live_) return true;
    digest_->Add(s.data(), s.size());
    digest_->End(kString, n);
    out_bytes_ += static_cast<int64_t>(n);
    return Done();
  }
  bool on_number_part(json::string_view, error_code&) { return true; }
  bool on_int64(std::int64_t i, json::string_view, error_code&) { return Number(&i, sizeof i); }
  bool on_uint64(std::uint64_t u, json::string_view, error_code&) { return Number(&u, sizeof u); }
  bool on_double(double d, json::string_view, error_code&) { return Number(&d, sizeof d); }
  bool on_bool(bool b, error_code&) { return Scalar(b ? kTrue : kFalse, b ? 4 : 5); }
  bool on_null(error_code&) { return Scalar(kNull, 4); }
  bool on_comment_part(json::string_view, error_code&) { return true; }
  bool on_comment(json::string_view, error_code&) { return true; }

 private:
  // A value starts at the current depth: picks the digest it feeds (true), or skips it.
  bool Begin() {
    if (skip_depth_) return false;
    if (skip_next_) {
      skip_next_ = false;
      return false;
    }
    if (depth_ == 1) {  // a top-level member's value
      if (IsPreamble(api_, top_key_)) return Start(Part::kPreamble);
      if (top_key_ == ConversationKey(api_)) return Start(Part::kItem);  // a string input
      return false;
    }
    if (depth_ == 2 && in_conversation_) return Start(Part::kItem);
    return digest_.has_value();
  }

  bool Open(Tag tag) {
    const bool conversation = depth_ == 1 && top_key_ == ConversationKey(api_) &&
                              tag == kArrayBegin && !skip_depth_ && !skip_next_;
    if (skip_depth_) {
      ++depth_;
      ++skip_depth_;
      return true;
    }
    if (skip_next_) {
      skip_next_ = false;
      skip_depth_ = 1;
      ++depth_;
      return true;
    }
    if (conversation) {
      in_conversation_ = true;
      ++depth_;
      return true;
    }
    if (Begin()) {
      digest_->End(tag, 0);
      ++open_;
    }
    ++depth_;
    return true;
  }

  bool Close(Tag tag) {
    --depth_;
    if (skip_depth_) {
      --skip_depth_;
      return true;
    }
    if (in_conversation_ && depth_ == 1) {
      in_conversation_ = false;
      return true;
    }
    if (!digest_) return true;
    digest_->End(tag, 0);
    --open_;
    return Done();
  }

  bool Number(const void* v, size_t n) {
    if (!Begin()) return true;
    digest_->Add(v, n);
    digest_->End(kNumber, n);
    out_bytes_ += 1;  // a number's text is at least one byte
    return Done();
  }
  bool Scalar(Tag tag, int64_t bytes) {
    if (!Begin()) return true;
    digest_->End(tag, 0);
    out_bytes_ += bytes;
    return Done();
  }

  enum class Part { kPreamble, kItem };
  bool Start(Part part) {
    if (digest_) return true;
    digest_.emplace();
    part_ = part;
    open_ = 0;
    out_bytes_ = 0;
    return true;
  }
  // After a value: when it closed the part's outermost value, the part's digest is done.
  bool Done() {
    if (!digest_ || open_ > 0) return true;
    PrefixDigest d = digest_->Finish();
    digest_.reset();
    out_.covered_bytes += out_bytes_;
    if (part_ == Part::kPreamble) {
      out_.preamble[top_key_] = d;
      out_.preamble_bytes += out_bytes_;
    } else {
      out_.items.push_back(d);
      out_.item_bytes.push_back(out_bytes_);
    }
    return true;
  }

  Api api_;
  Parts& out_;
  int depth_ = 0;
  std::string key_, top_key_;
  bool in_conversation_ = false;
  std::optional<Digest> digest_;
  Part part_ = Part::kPreamble;
  int open_ = 0;  // containers open inside the current part
  int64_t out_bytes_ = 0;
  // cache_control: the next value is left out; skip_depth_ counts containers inside it.
  bool skip_next_ = false;
  int skip_depth_ = 0;
  // A string arriving in parts: whether it feeds the digest was decided at its first part.
  bool in_string_ = false;
  bool string_live_ = false;
};

}  // namespace

Result<RequestShape> ReadShape(Api api, std::string_view body) {
  Parts parts;
  json::parse_options options;
  options.max_depth = 1024;
  json::basic_parser<Shaper> parser(options, api, parts);
  error_code ec;
  parser.write_some(false, body.data(), body.size(), ec);
  if (ec) {
    return MakeError(ErrorCode::kBadRequest, "the request body is not valid JSON: " + ec.message());
  }
  RequestShape shape;
  shape.body_bytes = static_cast<int64_t>(body.size());
  Digest first;
  for (const auto& [name, digest] : parts.preamble) {
    first.Add(name.data(), name.size());
    first.Add(digest.data(), digest.size());
    first.End(kKey, name.size());
  }
  shape.prefixes.push_back(first.Finish());
  int64_t rest = shape.body_bytes - parts.preamble_bytes;
  shape.rest_bytes.push_back(rest);
  for (size_t i = 0; i < parts.items.size(); ++i) {
    Digest next;
    next.Add(shape.prefixes.back().data(), 32);
    next.Add(parts.items[i].data(), 32);
    shape.prefixes.push_back(next.Finish());
    rest -= parts.item_bytes[i];
    shape.rest_bytes.push_back(rest);
  }
  return shape;
}

std::pair<size_t, int64_t> PrefixBook::Longest(const std::string& task,
                                               const RequestShape& shape) const {
  const auto it = tasks_.find(task);
  if (it == tasks_.end()) return {shape.prefixes.size(), 0};
  for (size_t i = shape.prefixes.size(); i-- > 0;) {
    for (const Known& k : it->second) {
      if (k.digest == shape.prefixes[i]) return {i, k.tokens};
    }
  }
  return {shape.prefixes.size(), 0};
}

int64_t PrefixBook::UnknownBytes(const std::string& task, const RequestShape& shape) const {
  const auto [i, tokens] = Longest(task, shape);
  return i < shape.rest_bytes.size() ? shape.rest_bytes[i] : shape.body_bytes;
}

int64_t PrefixBook::InputBound(const std::string& task, const RequestShape& shape) const {
  const auto [i, tokens] = Longest(task, shape);
  if (i >= shape.rest_bytes.size()) return shape.body_bytes;
  // Never above the plain byte bound: a known prefix only ever tightens it.
  return std::min(shape.body_bytes, tokens + shape.rest_bytes[i] + kSeamTokens);
}

void PrefixBook::Learn(const std::string& task, const RequestShape& shape, int64_t input_tokens) {
  if (shape.prefixes.empty() || input_tokens <= 0) return;
  if (!tasks_.contains(task)) {
    task_order_.push_back(task);
    while (task_order_.size() > max_tasks_) {
      tasks_.erase(task_order_.front());
      task_order_.pop_front();
    }
  }
  auto& known = tasks_[task];
  const PrefixDigest& whole = shape.prefixes.back();
  for (Known& k : known) {
    if (k.digest == whole) {
      k.tokens = std::max(k.tokens, input_tokens);
      return;
    }
  }
  known.push_back(Known{whole, input_tokens});
  while (known.size() > per_task_) known.pop_front();
}

void PrefixBook::Forget(const std::string& task) {
  if (tasks_.erase(task) == 0) return;
  task_order_.erase(std::find(task_order_.begin(), task_order_.end(), task));
}

size_t PrefixBook::Size(const std::string& task) const {
  const auto it = tasks_.find(task);
  return it == tasks_.end() ? 0 : it->second.size();
}

}  // namespace autovibe::meter
