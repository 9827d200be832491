#include "worker-agent/meter/request.h"

#include <boost/json/basic_parser_impl.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <limits>
#include <optional>
#include <vector>

#include "worker-agent/meter/content_scan.h"
#include "worker-agent/meter/sax_limits.h"

namespace autovibe::meter {
namespace {

namespace json = boost::json;
using boost::system::error_code;

// A whole number, or a mark that the member was there but is not one.
struct Count {
  bool present = false;
  bool valid = false;
  int64_t value = 0;
};

// One entry of the request's "tools".
struct ToolEntry {
  std::string type;
  Count max_uses, max_content_tokens;
};

// The members the proxy reads, found without building the document: the body is scanned once
// (which also checks it is JSON) and only top-level members, stream_options' own and the
// tools' own are looked at. A tool's request is often hundreds of kilobytes of conversation.
struct TopLevel {
  bool is_object = false;
  std::optional<std::string> model;
  bool model_not_string = false;
  bool stream = false;
  Count max_tokens, max_completion_tokens, max_output_tokens, n;
  Count thinking_budget;  // thinking.budget_tokens
  std::optional<std::string> service_tier;
  bool has_stream_options = false;
  bool include_usage = false;
  std::vector<ToolEntry> tools;
  bool mcp_servers = false;
  ContentScan content;  // what the conversation makes the provider fetch
};

class Scanner : public SaxNoLimits {
 public:
  explicit Scanner(TopLevel& out) : out_(out) {}

  bool on_document_begin(error_code&) { return true; }
  bool on_document_end(error_code&) { return true; }
  bool on_object_begin(error_code&) {
    out_.content.Open(false);
    if (depth_ == 0) out_.is_object = true;
    if (depth_ == 1 && key_ == "stream_options") out_.has_stream_options = true;
    if (depth_ == 2 && in_tools_) {
      out_.tools.emplace_back();
      in_tool_ = true;
      tool_key_.clear();
    }
    Enter();
    return true;
  }
  bool on_object_end(std::size_t, error_code&) {
    out_.content.Close();
    return Leave();
  }
  bool on_array_begin(error_code&) {
    out_.content.Open(true);
    Enter();
    return true;
  }
  bool on_array_end(std::size_t n, error_code&) {
    if (depth_ == 2 && key_ == "mcp_servers" && n > 0) out_.mcp_servers = true;
    out_.content.Close();
    return Leave();
  }
  bool on_key_part(json::string_view s, std::size_t, error_code&) {
    out_.content.KeyPart(s);
    if (Watching()) key_part_.append(s.data(), s.size());
    return true;
  }
  bool on_key(json::string_view s, std::size_t, error_code&) {
    out_.content.Key(s);
    if (Watching()) {
      key_part_.append(s.data(), s.size());
      (depth_ == 1 ? key_ : depth_ == 2 ? inner_key_ : tool_key_) = std::move(key_part_);
      key_part_.clear();
    }
    return true;
  }
  bool on_string_part(json::string_view s, std::size_t, error_code&) {
    out_.content.StringPart(s);
    if (StringTarget() != nullptr) value_part_.append(s.data(), s.size());
    return true;
  }
  bool on_string(json::string_view s, std::size_t, error_code&) {
    out_.content.String(s);
    if (std::string* target = StringTarget()) {
      value_part_.append(s.data(), s.size());
      *target = std::move(value_part_);
      value_part_.clear();
    }
    SetCount(false, 0);
    return Scalar();
  }
  bool on_number_part(json::string_view, error_code&) { return true; }
  bool on_int64(std::int64_t i, json::string_view, error_code&) {
    out_.content.Scalar(false);
    SetCount(i > 0, i);
    return Scalar();
  }
  bool on_uint64(std::uint64_t u, json::string_view, error_code&) {
    out_.content.Scalar(false);
    SetCount(true, static_cast<int64_t>(std::min<uint64_t>(u, INT64_MAX)));
    return Scalar();
  }
  bool on_double(double, json::string_view, error_code&) {
    out_.content.Scalar(false);
    SetCount(false, 0);
    return Scalar();
  }
  bool on_bool(bool b, error_code&) {
    out_.content.Scalar(false);
    SetCount(false, 0);
    if (AtTop("stream")) out_.stream = b;
    if (depth_ == 2 && in_stream_options_ && inner_key_ == "include_usage") {
      out_.include_usage = b;
    }
    return Scalar();
  }
  bool on_null(error_code&) {
    out_.content.Scalar(true);
    return Scalar();
  }
  bool on_comment_part(json::string_view, error_code&) { return true; }
  bool on_comment(json::string_view, error_code&) { return true; }

 private:
  bool Watching() const {
    return depth_ == 1 || (depth_ == 2 && (in_stream_options_ || in_thinking_)) ||
           (depth_ == 3 && in_tool_);
  }
  bool AtTop(std::string_view key) const { return depth_ == 1 && key_ == key; }
  bool InTool(std::string_view key) const { return depth_ == 3 && in_tool_ && tool_key_ == key; }
  std::string* StringTarget() {
    if (AtTop("model")) return &out_.model.emplace();
    if (AtTop("service_tier")) return &out_.service_tier.emplace();
    if (InTool("type")) return &out_.tools.back().type;
    return nullptr;
  }
  void Enter() {
    if (depth_ == 1) {
      in_stream_options_ = key_ == "stream_options";
      in_thinking_ = key_ == "thinking";
      in_tools_ = key_ == "tools";
    }
    ++depth_;
  }
  bool Leave() {
    --depth_;
    if (depth_ == 1) {
      if (key_ == "model") out_.model_not_string = true;
      SetCount(false, 0);
      in_stream_options_ = false;
      in_thinking_ = false;
      in_tools_ = false;
    } else if (depth_ == 2) {
      in_tool_ = false;
    } else if (depth_ == 3) {
      SetCount(false, 0);  // an object or array where a count belongs
    }
    return true;
  }
  // Any other type at "model" is a mistake.
  bool Scalar() {
    if (AtTop("model") && !out_.model) out_.model_not_string = true;
    return true;
  }
  void SetCount(bool positive, int64_t v) {
    Count* c = nullptr;
    if (depth_ == 1) {
      c = key_ == "max_tokens"              ? &out_.max_tokens
          : key_ == "max_completion_tokens" ? &out_.max_completion_tokens
          : key_ == "max_output_tokens"     ? &out_.max_output_tokens
          : key_ == "n"                     ? &out_.n
                                            : nullptr;
    } else if (depth_ == 2 && in_thinking_) {
      c = inner_key_ == "budget_tokens" ? &out_.thinking_budget : nullptr;
    } else if (depth_ == 3 && in_tool_) {
      ToolEntry& t = out_.tools.back();
      c = tool_key_ == "max_uses"             ? &t.max_uses
          : tool_key_ == "max_content_tokens" ? &t.max_content_tokens
                                              : nullptr;
    }
    if (c != nullptr) *c = Count{.present = true, .valid = positive, .value = v};
  }

  TopLevel& out_;
  int depth_ = 0;
  bool in_stream_options_ = false;
  bool in_thinking_ = false;
  bool in_tools_ = false;
  bool in_tool_ = false;
  std::string key_, inner_key_, tool_key_, key_part_, value_part_;
};

Result<TopLevel> Scan(std::string_view body) {
  TopLevel top;
  json::parse_options options;
  options.max_depth = 1024;  // tool schemas nest deeply; the scan keeps no per-level state
  json::basic_parser<Scanner> parser(options, top);
  error_code ec;
  parser.write_some(false, body.data(), body.size(), ec);
  if (ec)
    return MakeError(ErrorCode::kBadRequest, "the request body is not valid JSON: " + ec.message());
  if (!top.is_object)
    return MakeError(ErrorCode::kBadRequest, "the request body must be a JSON object");
  return top;
}

Error Unbounded(const std::string& why) {
  return MakeError(ErrorCode::kBadRequest, "the cost of this call cannot be bounded: " + why);
}

// OpenAI's hosted tools, billed per call or per container apart from the tokens the usage
// reports.
bool IsOpenAiHostedTool(std::string_view type) {
  return type.starts_with("web_search") || type == "file_search" || type == "code_interpreter" ||
         type == "image_generation" || type == "mcp";
}

// What the tools the provider runs itself add to the worst case. Sets `inject` when a web
// search tool has no max_uses (it is then sent with kDefaultWebSearchUses).
Result<void> ReadTools(Api api, const TopLevel& top, RequestFacts& facts, bool& inject) {
  for (const ToolEntry& t : top.tools) {
    if (api != Api::kMessages) {
      if (IsOpenAiHostedTool(t.type)) {
        return Unbounded("the hosted tool \"" + t.type +
                         "\" is billed apart from the tokens the answer reports");
      }
      continue;
    }
    if (t.type.starts_with("web_search_")) {
      facts.server_tools = true;
      if (t.max_uses.present && !t.max_uses.valid) {
        return MakeError(ErrorCode::kBadRequest,
                         "a web search tool's max_uses must be a positive integer");
      }
      inject |= !t.max_uses.present;
      facts.web_searches += t.max_uses.present ? t.max_uses.value : kDefaultWebSearchUses;
    } else if (t.type.starts_with("web_fetch_")) {
      facts.server_tools = true;
      if (!t.max_uses.valid || !t.max_content_tokens.valid) {
        return Unbounded("a web fetch tool needs max_uses and max_content_tokens");
      }
      facts.fetched_tokens += t.max_uses.value * std::min<int64_t>(t.max_content_tokens.value,
                                                                   INT64_MAX / t.max_uses.value);
    } else if (t.type.starts_with("code_execution_")) {
      return Unbounded("the code execution tool is billed by container time");
    }
  }
  if (top.mcp_servers) return Unbounded("MCP servers run tools the proxy cannot see");
  if (!top.content.unbounded().empty()) return Unbounded(top.content.unbounded());
  return {};
}

// Makes a streamed chat completion end with a usage chunk. A body without stream_options
// gets it written in after its opening brace; otherwise the document is rebuilt.
Result<void> AskForUsage(const TopLevel& top, std::string& body) {
  if (top.include_usage) return {};
  if (!top.has_stream_options) {
    body.insert(body.find('{') + 1, R"("stream_options":{"include_usage":true},)");
    return {};
  }
  error_code ec;
  json::value doc = json::parse(body, ec);
  if (ec || !doc.is_object())
    return MakeError(ErrorCode::kBadRequest, "the request body is not valid JSON");
  json::value& options = doc.as_object()["stream_options"];
  if (!options.is_object()) options = json::object();
  options.as_object()["include_usage"] = true;
  body = json::serialize(doc);
  return {};
}

// Gives every web search tool without max_uses kDefaultWebSearchUses (the document is rebuilt:
// rare, and Claude Code sets max_uses itself).
Result<void> LimitWebSearches(std::string& body) {
  error_code ec;
  json::value doc = json::parse(body, ec);
  const json::value* tools = ec ? nullptr : doc.as_object().if_contains("tools");
  if (tools == nullptr || !tools->is_array()) {
    return MakeError(ErrorCode::kBadRequest, "the request body is not valid JSON");
  }
  for (json::value& tool : doc.as_object()["tools"].as_array()) {
    json::object* t = tool.if_object();
    const json::value* type = t ? t->if_contains("type") : nullptr;
    if (type && type->is_string() && type->get_string().starts_with("web_search_") &&
        !t->contains("max_uses")) {
      (*t)["max_uses"] = kDefaultWebSearchUses;
    }
  }
  body = json::serialize(doc);
  return {};
}

}  // namespace

Result<CallPlan> PlanCall(Api api, std::string body, const PriceTable& prices,
                          const PricingRules& rules) {
  auto top = Scan(body);
  if (!top) return top.error();
  if (!top->model || top->model_not_string || top->model->empty()) {
    return MakeError(ErrorCode::kBadRequest, "\"model\" must be a non-empty string");
  }
  Count limit = api == Api::kMessages                ? top->max_tokens
                : api == Api::kResponses             ? top->max_output_tokens
                : top->max_completion_tokens.present ? top->max_completion_tokens
                                                     : top->max_tokens;
  if (limit.present && !limit.valid) {
    return MakeError(ErrorCode::kBadRequest, "the output token limit must be a positive integer");
  }
  if (api == Api::kChatCompletions && top->n.present && !top->n.valid) {
    return MakeError(ErrorCode::kBadRequest, "n must be a positive integer");
  }
  CallPlan plan;
  plan.api = api;
  plan.model = *top->model;
  plan.stream = top->stream;
  RequestFacts& facts = plan.request;
  facts.api = api;
  facts.model = plan.model;
  if (limit.present) facts.max_output = limit.value;
  if (api == Api::kMessages && top->thinking_budget.valid) {
    plan.thinking_budget = top->thinking_budget.value;
  }
  if (api == Api::kChatCompletions && top->n.present) facts.choices = top->n.value;
  facts.service_tier = top->service_tier.value_or("");
  bool limit_searches = false;
  if (auto r = ReadTools(api, *top, facts, limit_searches); !r) return r.error();

  auto price = prices.Find(plan.model);
  if (price) {
    plan.price = *price;
  } else if (rules.allow_unpriced && prices.Highest().standard.output > 0) {
    plan.price = prices.Highest();
    plan.unpriced = true;
  } else {
    return price.error();
  }
  if (api == Api::kChatCompletions && plan.stream) {
    if (auto r = AskForUsage(*top, body); !r) return r.error();
  }
  if (limit_searches) {
    if (auto r = LimitWebSearches(body); !r) return r.error();
  }
  facts.input_bound = static_cast<int64_t>(body.size());
  auto worst = WorstCase(facts, plan.price);
  if (!worst) return worst.error();
  plan.worst = worst->amounts;
  plan.worst_tokens = worst->tokens;
  plan.body = std::move(body);
  return plan;
}

void BoundInput(CallPlan& plan, int64_t bound) {
  if (bound >= plan.request.input_bound) return;
  RequestFacts tighter = plan.request;
  tighter.input_bound = bound;
  if (auto w = WorstCase(tighter, plan.price); w) {
    plan.request = std::move(tighter);
    plan.worst = w->amounts;
    plan.worst_tokens = w->tokens;
  }
}

}  // namespace autovibe::meter
