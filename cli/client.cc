#include "cli/client.h"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/url/encode.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/rfc/unreserved_chars.hpp>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <stdexcept>

#include "common/tls/certificate.h"

namespace autovibe::cli {
namespace json = boost::json;
namespace {

std::string Trim(std::string_view text) {
  const auto first = text.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) return "";
  const auto last = text.find_last_not_of(" \t\r\n");
  return std::string(text.substr(first, last - first + 1));
}

std::string FirstLine(std::string_view text) { return Trim(text.substr(0, text.find('\n'))); }

// A short, single-line view of a body that is not what we expected, for error messages.
std::string Excerpt(std::string_view body) {
  std::string line = FirstLine(Trim(body));
  if (line.empty()) return "(empty body)";
  constexpr size_t kMax = 120;
  if (line.size() > kMax) line = line.substr(0, kMax) + "...";
  return line;
}

// The first line of a token file, trimmed; nullopt with `why` set when it cannot be read.
std::optional<std::string> ReadTokenFile(const std::string& path, std::string& why) {
  std::ifstream in(path);
  if (!in) {
    why = path + ": " + std::strerror(errno);
    return std::nullopt;
  }
  std::string line;
  std::getline(in, line);
  return Trim(line);
}

std::string NonEmpty(std::optional<std::string> value) {
  return value && !value->empty() ? std::move(*value) : std::string();
}

// The {"error":{"code","message"}} of a reply, when it has one.
struct ApiError {
  std::string code;
  std::string message;
};

std::optional<ApiError> ParseApiError(std::string_view body) {
  boost::system::error_code ec;
  json::value v = json::parse(body, ec);
  if (ec || !v.is_object()) return std::nullopt;
  const auto* err = v.get_object().if_contains("error");
  if (err == nullptr || !err->is_object()) return std::nullopt;
  ApiError out;
  if (const auto* c = err->get_object().if_contains("code"); c && c->is_string()) {
    out.code = std::string(c->get_string());
  }
  if (const auto* m = err->get_object().if_contains("message"); m && m->is_string()) {
    out.message = std::string(m->get_string());
  }
  return out;
}

// Whether `url` names this host: a controller whose data dir may be at hand.
bool LoopbackUrl(const std::string& url) {
  auto parsed = boost::urls::parse_uri(url);
  if (!parsed) return false;
  const std::string host(parsed->host());
  return host == "127.0.0.1" || host == "localhost" || host == "[::1]" || host == "::1";
}

// How the controller's certificate is checked: the pin, else a CA file (see ResolveEndpoint).
CliStatus ResolveTrust(const GlobalOptions& options, const EnvLookup& env, const std::string& url,
                       const std::string& token_file, Endpoint& out) {
  std::string pin = options.pin;
  const char* pin_from = "--pin";
  if (pin.empty()) {
    pin = NonEmpty(env("AUTOVIBE_PIN"));
    pin_from = "AUTOVIBE_PIN";
  }
  if (!pin.empty()) {
    auto normal = NormalizeFingerprint(pin);
    if (!normal) return CliError{kExitUsage, std::string(pin_from) + ": " + normal.error().message};
    out.pin = std::move(*normal);
    return {};
  }
  out.ca_file = options.ca;
  if (out.ca_file.empty()) out.ca_file = NonEmpty(env("AUTOVIBE_CA"));
  if (!out.ca_file.empty() || !LoopbackUrl(url)) return {};
  const auto slash = token_file.rfind('/');
  const std::string local =
      (slash == std::string::npos ? std::string(".") : token_file.substr(0, slash)) + "/" +
      std::string(kLocalCertFile);
  if (std::ifstream(local)) out.ca_file = local;
  return {};
}

}  // namespace

void throw_exception_from_error(const CliError& e, const boost::source_location&) {
  throw std::runtime_error(e.message);
}

std::optional<std::string> ProcessEnv(const char* name) {
  const char* value = std::getenv(name);
  if (value == nullptr) return std::nullopt;
  return std::string(value);
}

CliResult<Endpoint> ResolveEndpoint(const GlobalOptions& options, const EnvLookup& env,
                                    const std::string& default_token_file) {
  Endpoint out;
  out.url = options.controller;
  if (out.url.empty()) out.url = NonEmpty(env("AUTOVIBE_CONTROLLER"));
  if (out.url.empty()) out.url = kDefaultControllerUrl;
  while (out.url.size() > 1 && out.url.back() == '/') out.url.pop_back();

  const std::string token_file = NonEmpty(env("AUTOVIBE_TOKEN_FILE"));
  if (auto trust = ResolveTrust(options, env, out.url,
                                token_file.empty() ? default_token_file : token_file, out);
      !trust) {
    return trust.error();
  }

  out.token = options.token;
  if (out.token.empty()) out.token = NonEmpty(env("AUTOVIBE_TOKEN"));
  if (!out.token.empty()) return out;

  std::string why;
  if (const std::string& file = token_file; !file.empty()) {
    auto token = ReadTokenFile(file, why);
    if (!token) {
      return CliError{kExitUsage,
                      "cannot read the token file named by AUTOVIBE_TOKEN_FILE: " + why};
    }
    out.token = std::move(*token);
  } else if (auto token = ReadTokenFile(default_token_file, why)) {
    // The admin token of a controller on this host; unreadable for most users, which is fine.
    out.token = std::move(*token);
  }
  return out;
}

Result<SseReply> StreamEventsWithDefaults(const HttpCall& call, const SseHandler& on_event) {
  return StreamEvents(call, on_event);
}

Result<HttpReply> DownloadWithDefaults(const HttpCall& call, const BodySink& sink) {
  return DownloadBody(call, sink, std::chrono::minutes(3));
}

Client::Client(Endpoint endpoint, Transport transport, EventTransport events,
               DownloadTransport downloads)
    : endpoint_(std::move(endpoint)),
      transport_(std::move(transport)),
      events_(std::move(events)),
      downloads_(std::move(downloads)) {}

CliStatus Client::Download(std::string_view path, const BodySink& sink) const {
  const HttpCall call = MakeCall("GET", path, {});
  uint64_t received = 0;
  auto reply = downloads_(call, [&](std::string_view piece) {
    received += piece.size();
    return sink(piece);
  });
  if (!reply && received > 0) {
    return CliError{kExitFailure, "GET " + std::string(path) + " broke off after " +
                                      std::to_string(received) +
                                      " bytes: " + reply.error().message};
  }
  if (!reply) return ErrorFromTransport(endpoint_.url, reply.error());
  if (reply->status < 200 || reply->status > 299) {
    return ErrorFromReply(*reply, "GET " + std::string(path));
  }
  return {};
}

HttpCall Client::MakeCall(std::string_view method, std::string_view path, std::string body) const {
  HttpCall call;
  call.method = std::string(method);
  call.url = endpoint_.url + std::string(path);
  call.bearer_token = endpoint_.token;
  call.body = std::move(body);
  call.timeout = timeout_;
  call.ca_file = endpoint_.ca_file;
  call.pin_sha256 = endpoint_.pin;
  return call;
}

CliResult<json::value> Client::Post(std::string_view path, const json::value& body) const {
  return Call("POST", path, json::serialize(body));
}

CliStatus Client::Follow(std::string_view path, const SseHandler& on_event) const {
  const HttpCall call = MakeCall("GET", path, {});
  auto reply = events_(call, on_event);
  if (!reply) return ErrorFromTransport(endpoint_.url, reply.error());
  if (reply->is_stream()) return {};
  if (reply->status == 200) {
    // Following again would get the same answer, forever: this is no event stream.
    return CliError{kExitFailure, "the controller at " + endpoint_.url + " answered GET " +
                                      std::string(path) + " with \"" + reply->content_type +
                                      "\", not an event stream: " + Excerpt(reply->body)};
  }
  CliError error = ErrorFromReply(HttpReply{reply->status, reply->content_type, reply->body},
                                  "GET " + std::string(path));
  if (reply->status == 502 || reply->status == 503 || reply->status == 504) {
    error.exit_code = kExitUnreachable;
  }
  return error;
}

CliResult<HttpReply> Client::Raw(std::string_view method, std::string_view path,
                                 std::string body) const {
  const HttpCall call = MakeCall(method, path, std::move(body));
  auto reply = transport_(call);
  if (!reply) return ErrorFromTransport(endpoint_.url, reply.error());
  if (reply->status < 200 || reply->status > 299) {
    return ErrorFromReply(*reply, call.method + " " + std::string(path));
  }
  return std::move(*reply);
}

CliResult<json::value> Client::Call(std::string_view method, std::string_view path,
                                    std::string body) const {
  auto reply = Raw(method, path, std::move(body));
  if (!reply) return reply.error();
  if (Trim(reply->body).empty()) return json::value();

  boost::system::error_code ec;
  json::value parsed = json::parse(reply->body, ec);
  if (ec) {
    return CliError{kExitFailure, "the controller at " + endpoint_.url + " answered " +
                                      std::string(method) + " " + std::string(path) +
                                      " with something that is not JSON (" + ec.message() +
                                      "): " + Excerpt(reply->body)};
  }
  return parsed;
}

CliError ErrorFromTransport(const std::string& url, const Error& error) {
  if (error.code == ErrorCode::kBadUrl) {
    return CliError{kExitUsage, "the controller URL \"" + url +
                                    "\" is not an https:// or http:// URL; set --controller or "
                                    "AUTOVIBE_CONTROLLER"};
  }
  if (error.code == ErrorCode::kTls) {
    // Reached, but not the controller we were told to trust: retrying will not help.
    return CliError{kExitFailure, "refusing the controller at " + url + ": " + error.message +
                                      " (trust it with --ca FILE or AUTOVIBE_CA, or with --pin "
                                      "SHA256 or AUTOVIBE_PIN for a self-signed one)"};
  }
  // kUnavailable (refused, DNS, timeout) and kIo (the connection broke) look the same to a
  // user: there is no working controller at that URL.
  return CliError{kExitUnreachable,
                  "cannot reach the controller at " + url + ": " + error.message +
                      " (is it running? set --controller or AUTOVIBE_CONTROLLER)"};
}

CliError ErrorFromReply(const HttpReply& reply, std::string_view request) {
  const auto api = ParseApiError(reply.body);
  const std::string message = api && !api->message.empty() ? api->message : Excerpt(reply.body);
  const std::string status = std::to_string(reply.status);
  if (reply.status == 401) {
    return CliError{kExitUnauthorized, "the controller refused the token (401): " + message +
                                           "; set --token or AUTOVIBE_TOKEN"};
  }
  if (reply.status == 404) {
    return CliError{kExitNotFound, api && !api->message.empty()
                                       ? message
                                       : "not found (404): " + std::string(request)};
  }
  const std::string code = api && !api->code.empty() ? " " + api->code : "";
  return CliError{kExitFailure, status + code + ": " + message};
}

std::string PathSegment(std::string_view text) {
  return boost::urls::encode(text, boost::urls::unreserved_chars);
}

}  // namespace autovibe::cli
