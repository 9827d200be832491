#include "worker-agent/meter/request.h"

#include <boost/json/basic_parser_impl.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <limits>
#include <optional>

namespace autovibe::meter {
namespace {

namespace json = boost::json;
using boost::system::error_code;

// A top-level whole number, or a mark that the member was there but is not one.
struct Count {
  bool present = false;
  bool valid = false;
  int64_t value = 0;
};

// The members the proxy reads, found without building the document: the body is scanned once
// (which also checks it is JSON) and only top-level members (and stream_options' own) are
// looked at. A tool's request is often hundreds of kilobytes of conversation.
struct TopLevel {
  bool is_object = false;
  std::optional<std::string> model;
  bool model_not_string = false;
  bool stream = false;
  Count max_tokens, max_completion_tokens, max_output_tokens;
  bool has_stream_options = false;
  bool include_usage = false;
};

class Scanner {
 public:
  static constexpr std::size_t max_array_size = -1;
  static constexpr std::size_t max_object_size = -1;
  static constexpr std::size_t max_string_size = -1;
  static constexpr std::size_t max_key_size = -1;

  explicit Scanner(TopLevel& out) : out_(out) {}

  bool on_document_begin(error_code&) { return true; }
  bool on_document_end(error_code&) { return true; }
  bool on_object_begin(error_code&) {
    if (depth_ == 0) out_.is_object = true;
    if (depth_ == 1 && key_ == "stream_options") out_.has_stream_options = true;
    Enter();
    return true;
  }
  bool on_object_end(std::size_t, error_code&) { return Leave(); }
  bool on_array_begin(error_code&) {
    Enter();
    return true;
  }
  bool on_array_end(std::size_t, error_code&) { return Leave(); }
  bool on_key_part(json::string_view s, std::size_t, error_code&) {
    if (Watching()) key_part_.append(s.data(), s.size());
    return true;
  }
  bool on_key(json::string_view s, std::size_t, error_code&) {
    if (Watching()) {
      key_part_.append(s.data(), s.size());
      (depth_ == 1 ? key_ : inner_key_) = std::move(key_part_);
      key_part_.clear();
    }
    return true;
  }
  bool on_string_part(json::string_view s, std::size_t, error_code&) {
    if (AtTop("model")) value_part_.append(s.data(), s.size());
    return true;
  }
  bool on_string(json::string_view s, std::size_t, error_code&) {
    if (AtTop("model")) {
      value_part_.append(s.data(), s.size());
      out_.model = std::move(value_part_);
      value_part_.clear();
    }
    SetCount(false, 0);
    return Scalar();
  }
  bool on_number_part(json::string_view, error_code&) { return true; }
  bool on_int64(std::int64_t i, json::string_view, error_code&) {
    SetCount(i > 0, i);
    return Scalar();
  }
  bool on_uint64(std::uint64_t u, json::string_view, error_code&) {
    SetCount(true, static_cast<int64_t>(std::min<uint64_t>(u, INT64_MAX)));
    return Scalar();
  }
  bool on_double(double, json::string_view, error_code&) {
    SetCount(false, 0);
    return Scalar();
  }
  bool on_bool(bool b, error_code&) {
    SetCount(false, 0);
    if (AtTop("stream")) out_.stream = b;
    if (depth_ == 2 && in_stream_options_ && inner_key_ == "include_usage") {
      out_.include_usage = b;
    }
    return Scalar();
  }
  bool on_null(error_code&) { return Scalar(); }
  bool on_comment_part(json::string_view, error_code&) { return true; }
  bool on_comment(json::string_view, error_code&) { return true; }

 private:
  bool Watching() const { return depth_ == 1 || (depth_ == 2 && in_stream_options_); }
  bool AtTop(std::string_view key) const { return depth_ == 1 && key_ == key; }
  void Enter() {
    if (depth_ == 1) in_stream_options_ = key_ == "stream_options";
    ++depth_;
  }
  bool Leave() {
    --depth_;
    if (depth_ == 1) {
      if (key_ == "model") out_.model_not_string = true;
      SetCount(false, 0);
      in_stream_options_ = false;
    }
    return true;
  }
  // Any other type at "model" is a mistake.
  bool Scalar() {
    if (AtTop("model") && !out_.model) out_.model_not_string = true;
    return true;
  }
  void SetCount(bool positive, int64_t v) {
    if (depth_ != 1) return;
    Count* c = key_ == "max_tokens"              ? &out_.max_tokens
               : key_ == "max_completion_tokens" ? &out_.max_completion_tokens
               : key_ == "max_output_tokens"     ? &out_.max_output_tokens
                                                 : nullptr;
    if (c != nullptr) *c = Count{.present = true, .valid = positive, .value = v};
  }

  TopLevel& out_;
  int depth_ = 0;
  bool in_stream_options_ = false;
  std::string key_, inner_key_, key_part_, value_part_;
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

}  // namespace

Amounts WorstCase(const ModelPrice& price, int64_t input_bound, int64_t max_output_tokens) {
  ModelPrice dearest_input = price;
  dearest_input.input = std::max(price.input, price.cache_write);
  Amounts worst;
  worst.usd_micros = PriceTable::Cost(
      dearest_input, TokenCounts{.input = input_bound, .output = max_output_tokens});
  worst.tokens = input_bound + max_output_tokens;
  worst.api_calls = 1;
  return worst;
}

Result<CallPlan> PlanCall(Api api, std::string body, const PriceTable& prices) {
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
  auto price = prices.Find(*top->model);
  if (!price) return price.error();

  CallPlan plan;
  plan.api = api;
  plan.model = *std::move(top->model);
  plan.price = *price;
  plan.stream = top->stream;
  plan.max_output_tokens = limit.present ? limit.value : price->max_output_tokens;
  plan.input_bound = static_cast<int64_t>(body.size());
  plan.worst = WorstCase(plan.price, plan.input_bound, plan.max_output_tokens);
  if (api == Api::kChatCompletions && plan.stream) {
    if (auto r = AskForUsage(*top, body); !r) return r.error();
  }
  plan.body = std::move(body);
  return plan;
}

}  // namespace autovibe::meter
