// Talking to the controller's HTTP API: where it is, which token to send, and turning its
// answers (or its absence) into JSON or a CliError with the right exit code.
#pragma once

#include <boost/json/value.hpp>
#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "cli/command.h"
#include "common/http/client.h"
#include "common/http/sse_client.h"

namespace autovibe::cli {

inline constexpr std::string_view kDefaultControllerUrl = "https://127.0.0.1:8080";
inline constexpr std::string_view kDefaultTokenFile = "/var/lib/autovibe/controller/admin.token";
// The self-signed certificate a controller makes in its data dir, beside its token file.
inline constexpr std::string_view kLocalCertFile = "tls-cert.pem";

// Looks up an environment variable; nullopt when unset. Production uses std::getenv.
using EnvLookup = std::function<std::optional<std::string>(const char* name)>;
std::optional<std::string> ProcessEnv(const char* name);

// Where the controller is, how to authenticate to it, and how to know it is the one.
struct Endpoint {
  std::string url;    // without a trailing '/'
  std::string token;  // empty: send no Authorization header
  // https: the CA file its certificate must be signed by (empty: the system's CAs), or the
  // SHA-256 fingerprint it must have (normalized; then any issuer).
  std::string ca_file;
  std::string pin;
};

// URL: --controller, else $AUTOVIBE_CONTROLLER, else kDefaultControllerUrl.
// Token: --token, else $AUTOVIBE_TOKEN, else the first line of the file named by
// $AUTOVIBE_TOKEN_FILE (an error if it cannot be read), else of `default_token_file` if it can
// be read, else none. Empty values count as unset.
// Trust (https): --pin, else $AUTOVIBE_PIN (a usage error when not a SHA-256 fingerprint);
// else --ca, else $AUTOVIBE_CA; else, for a controller on this host (the URL's host is
// 127.0.0.1, ::1 or localhost), the self-signed certificate it keeps beside its token file
// (kLocalCertFile in the directory of the token file, when readable); else the system's CAs.
CliResult<Endpoint> ResolveEndpoint(
    const GlobalOptions& options, const EnvLookup& env,
    const std::string& default_token_file = std::string(kDefaultTokenFile));

// Sends one HTTP request; SendHttp in production, a fake in tests.
using Transport = std::function<Result<HttpReply>(const HttpCall&)>;
// Follows an event stream; StreamEvents in production, a fake in tests.
using EventTransport = std::function<Result<SseReply>(const HttpCall&, const SseHandler&)>;
Result<SseReply> StreamEventsWithDefaults(const HttpCall& call, const SseHandler& on_event);
// Hands a body too large to hold to a sink as it arrives; DownloadBody in production (waiting
// up to 3 minutes for each piece), a fake in tests.
using BodySink = std::function<bool(std::string_view)>;
using DownloadTransport = std::function<Result<HttpReply>(const HttpCall&, const BodySink&)>;
Result<HttpReply> DownloadWithDefaults(const HttpCall& call, const BodySink& sink);

class Client {
 public:
  explicit Client(Endpoint endpoint, Transport transport = SendHttp,
                  EventTransport events = StreamEventsWithDefaults,
                  DownloadTransport downloads = DownloadWithDefaults);

  // Calls `method path` (path starts with "/v1/...") and returns the parsed JSON body (null for
  // an empty 2xx body). Errors carry the exit code and message of the CLI's contract:
  // unreachable (2), 401 (3), 404 (4), any other non-2xx or a body that is not JSON (1).
  CliResult<boost::json::value> Call(std::string_view method, std::string_view path,
                                     std::string body = {}) const;
  // Calls `method path` and returns the answer as it came, whatever its content type (a diff,
  // a git bundle): errors as for Call. The body is at most 64 MiB (the HTTP client's limit).
  CliResult<HttpReply> Raw(std::string_view method, std::string_view path,
                           std::string body = {}) const;
  // Call with `body` serialized as the JSON request body.
  CliResult<boost::json::value> Post(std::string_view path, const boost::json::value& body) const;

  // Follows the event stream at `path`, handing each event to `on_event`, until the controller
  // ends it or `on_event` returns false. Errors as for Call, except that a controller that is
  // restarting (502, 503, 504) counts as unreachable (5), like a dropped connection, and an
  // answer that is not an event stream is an error (1).
  CliStatus Follow(std::string_view path, const SseHandler& on_event) const;

  // GETs `path` and hands its body to `sink` as it arrives (a 2xx answer only), until it ends
  // or `sink` returns false. Errors as for Call; a body cut off mid-way is exit 1, saying
  // after how many bytes.
  CliStatus Download(std::string_view path, const BodySink& sink) const;

  const Endpoint& endpoint() const { return endpoint_; }

  // The same client, waiting `timeout` for each answer (calls the controller answers only
  // once agents did).
  Client WithTimeout(std::chrono::milliseconds timeout) const {
    Client c = *this;
    c.timeout_ = timeout;
    return c;
  }

 private:
  HttpCall MakeCall(std::string_view method, std::string_view path, std::string body) const;

  Endpoint endpoint_;
  Transport transport_;
  EventTransport events_;
  DownloadTransport downloads_;
  std::chrono::milliseconds timeout_ = HttpCall{}.timeout;
};

// The pieces of Client::Call, exposed for tests.
CliError ErrorFromTransport(const std::string& url, const Error& error);
// `request` ("GET /v1/machines/m-1") names what was not found when the body does not say.
CliError ErrorFromReply(const HttpReply& reply, std::string_view request);

// Percent-encodes one path segment: "a b/c" -> "a%20b%2Fc".
std::string PathSegment(std::string_view text);

}  // namespace autovibe::cli
