// The prefix book: a request's input bounded by the tokens the provider reported for the
// same prefix in an earlier call of the task, plus the bytes after it.
#include "worker-agent/meter/prefix_book.h"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <catch2/catch.hpp>

namespace autovibe::meter {
namespace {

namespace json = boost::json;

json::object Message(std::string role, std::string text, bool cached = false) {
  json::object block{{"type", "text"}, {"text", text}};
  if (cached) block["cache_control"] = json::object{{"type", "ephemeral"}};
  return json::object{{"role", role}, {"content", json::array{block}}};
}

// A system prompt as long as a coding tool's (theirs are tens of kilobytes).
const std::string kSystem = [] {
  std::string s;
  for (int i = 0; i < 200; ++i) s += "You are a coding agent. Follow the rules. ";
  return s;
}();

// A Claude Code-like request: model, system, tools, the conversation, output settings.
std::string Request(const json::array& messages, std::string system = kSystem) {
  json::object body{{"model", "claude-sonnet-4-5"},
                    {"max_tokens", 32000},
                    {"stream", true},
                    {"system", json::array{json::object{{"type", "text"}, {"text", system}}}},
                    {"tools", json::parse(R"([{"name":"Bash","input_schema":{"type":"object"}}])")},
                    {"messages", messages}};
  return json::serialize(body);
}

RequestShape Shape(const std::string& body, Api api = Api::kMessages) {
  auto shape = ReadShape(api, body);
  REQUIRE(shape.has_value());
  return *shape;
}

}  // namespace

TEST_CASE("prefix book: a grown conversation is bounded by its known prefix", "[meter]") {
  PrefixBook book;
  json::array turn1{Message("user", "fix the failing test in src/parse.cc")};
  const std::string first = Request(turn1);
  const RequestShape s1 = Shape(first);
  // Nothing known yet: every byte may be a token.
  CHECK(book.InputBound("t-1", s1) == static_cast<int64_t>(first.size()));
  book.Learn("t-1", s1, 120);

  json::array turn2 = turn1;
  const json::object reply = Message("assistant", "I'll run the tests first.");
  const json::object result = Message("user", "FAILED: parse_test.cc:12 expected 3 got \"4\"\n");
  turn2.push_back(reply);
  turn2.push_back(result);
  const std::string second = Request(turn2);
  const RequestShape s2 = Shape(second);
  const int64_t bound = book.InputBound("t-1", s2);
  // The new messages' JSON, at least, is left to the byte bound.
  const int64_t new_bytes =
      static_cast<int64_t>(json::serialize(reply).size() + json::serialize(result).size());
  CHECK(bound >= 120 + new_bytes + PrefixBook::kSeamTokens);
  CHECK(bound < static_cast<int64_t>(second.size()));
  CHECK(book.UnknownBytes("t-1", s2) < static_cast<int64_t>(second.size()));

  // Another task knows nothing of this one's conversation.
  CHECK(book.InputBound("t-2", s2) == static_cast<int64_t>(second.size()));
}

TEST_CASE("prefix book: moving the cache marker keeps the prefix known", "[meter]") {
  PrefixBook book;
  json::array turn1{Message("user", "hello", true)};
  book.Learn("t", Shape(Request(turn1)), 50);
  json::array turn2{Message("user", "hello"), Message("assistant", "hi"),
                    Message("user", "go on", true)};
  const std::string body = Request(turn2);
  CHECK(book.InputBound("t", Shape(body)) < static_cast<int64_t>(body.size()));
}

TEST_CASE("prefix book: a changed system prompt, tool list or message is not the prefix",
          "[meter]") {
  PrefixBook book;
  json::array turn1{Message("user", "hello"), Message("assistant", "hi")};
  book.Learn("t", Shape(Request(turn1)), 500);
  json::array longer = turn1;
  longer.push_back(Message("user", "more"));

  const std::string other_system = Request(longer, "You are someone else.");
  CHECK(book.InputBound("t", Shape(other_system)) == static_cast<int64_t>(other_system.size()));

  json::array edited{Message("user", "HELLO"), Message("assistant", "hi"), Message("user", "more")};
  const std::string body = Request(edited);
  CHECK(book.InputBound("t", Shape(body)) == static_cast<int64_t>(body.size()));

  json::object no_tools = json::parse(Request(longer)).as_object();
  no_tools.erase("tools");
  const std::string without = json::serialize(no_tools);
  CHECK(book.InputBound("t", Shape(without)) == static_cast<int64_t>(without.size()));

  json::object other_model = json::parse(Request(longer)).as_object();
  other_model["model"] = "claude-opus-4-1";
  const std::string model = json::serialize(other_model);
  CHECK(book.InputBound("t", Shape(model)) == static_cast<int64_t>(model.size()));
}

TEST_CASE("prefix book: member order does not matter, content does", "[meter]") {
  PrefixBook book;
  const std::string a = R"({"messages":[{"role":"user","content":"x"}],"system":")" + kSystem +
                        R"(","model":"m","tools":[]})";
  const std::string b = R"({"model":"m","system":")" + kSystem +
                        R"(","tools":[],"messages":[{"role":"user","content":"x"},)"
                        R"({"role":"assistant","content":"y"}],"max_tokens":10})";
  book.Learn("t", Shape(a), 10);
  const RequestShape sb = Shape(b);
  CHECK(book.InputBound("t", sb) < static_cast<int64_t>(b.size()));
  // The same text split differently between two members is not the same request.
  const std::string c = R"({"model":"m","system":")" + kSystem +
                        R"(","tools":[],"messages":[{"role":"user","content":"xy"}]})";
  CHECK(Shape(c).prefixes[0] == Shape(a).prefixes[0]);
  CHECK(Shape(c).prefixes[1] != Shape(a).prefixes[1]);
}

TEST_CASE("prefix book: long strings digest the same wherever they stand", "[meter]") {
  const std::string big(300'000, 'q');
  const std::string tail_same = std::string(299'990, 'r') + std::string(10, 'q');
  json::array one{Message("user", big)};
  json::array two{Message("user", big)};
  // The same long message after a longer system prompt: at another offset in the body.
  const RequestShape s1 = Shape(Request(one));
  const RequestShape s2 = Shape(Request(two, std::string(5'000, 's')));
  CHECK(s1.prefixes[0] != s2.prefixes[0]);
  const RequestShape s3 = Shape(Request(json::array{Message("user", tail_same)}));
  CHECK(s1.prefixes[1] != s3.prefixes[1]);
  const RequestShape s4 = Shape(Request(one));
  CHECK(s1.prefixes == s4.prefixes);
}

TEST_CASE("prefix book: escapes never make the unknown part look shorter than it is", "[meter]") {
  PrefixBook book;
  json::array turn1{Message("user", "caf\u00e9 \"quoted\"\n\ttabbed")};
  book.Learn("t", Shape(Request(turn1)), 30);
  json::array turn2 = turn1;
  const json::object added = Message("user", "\x01\x02 na\u00efve \\ slashes \"\"\"");
  turn2.push_back(added);
  const std::string body = Request(turn2);
  const RequestShape s = Shape(body);
  CHECK(book.UnknownBytes("t", s) >= static_cast<int64_t>(json::serialize(added).size()));
}

TEST_CASE("prefix book: the responses API, with instructions and a string input", "[meter]") {
  PrefixBook book;
  const std::string first = R"({"model":"gpt-5-codex","instructions":")" + kSystem +
                            R"(","input":[{"type":"message","role":"user","content":"a"}]})";
  book.Learn("t", Shape(first, Api::kResponses), 40);
  const std::string second =
      R"({"model":"gpt-5-codex","instructions":")" + kSystem +
      R"(","input":[{"type":"message","role":"user","content":"a"},{"type":"message","role":"user","content":"b"}],"stream":true})";
  CHECK(book.InputBound("t", Shape(second, Api::kResponses)) < static_cast<int64_t>(second.size()));
  const std::string other =
      R"({"model":"gpt-5-codex","instructions":"be long","input":[{"type":"message","role":"user","content":"a"},{"type":"message","role":"user","content":"b"}]})";
  CHECK(book.InputBound("t", Shape(other, Api::kResponses)) == static_cast<int64_t>(other.size()));
  const RequestShape text = Shape(R"({"model":"m","input":"just text"})", Api::kResponses);
  CHECK(text.prefixes.size() == 2);
}

TEST_CASE("prefix book: keeps the newest requests of a task, forgets a task", "[meter]") {
  PrefixBook book(2);
  json::array conversation;
  std::vector<RequestShape> shapes;
  for (int i = 0; i < 4; ++i) {
    conversation.push_back(Message("user", "turn " + std::to_string(i)));
    shapes.push_back(Shape(Request(conversation)));
    book.Learn("t", shapes.back(), 100 + i);
  }
  CHECK(book.Size("t") == 2);
  conversation.push_back(Message("user", "next"));
  const RequestShape next = Shape(Request(conversation));
  CHECK(book.InputBound("t", next) < next.body_bytes);
  book.Forget("t");
  CHECK(book.Size("t") == 0);
  CHECK(book.InputBound("t", next) == next.body_bytes);
}

TEST_CASE("prefix book: keeps the tasks learnt of most lately", "[meter]") {
  PrefixBook book(4, 2);
  const RequestShape s = Shape(Request(json::array{Message("user", "x")}));
  book.Learn("a", s, 10);
  book.Learn("b", s, 10);
  book.Learn("c", s, 10);
  CHECK(book.Size("a") == 0);
  CHECK(book.Size("b") == 1);
  CHECK(book.Size("c") == 1);
  book.Forget("b");
  book.Learn("d", s, 10);
  CHECK(book.Size("c") == 1);
  CHECK(book.Size("d") == 1);
}

TEST_CASE("prefix book: a body that is not JSON is refused", "[meter]") {
  CHECK_FALSE(ReadShape(Api::kMessages, R"({"model":"m","messages":[)").has_value());
  CHECK_FALSE(ReadShape(Api::kMessages, "not json").has_value());
}

}  // namespace autovibe::meter
