// The message bus seam: everything the programs need from NATS, and nothing NATS-specific.
//
// Thread-safety: every method may be called from any thread. Handlers run on the bus's own
// threads; a handler must not block and should hand the message to its owner thread (e.g.
// boost::asio::post). After a Subscription is destroyed its handler is not called again.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/bus/bus_stats.h"
#include "common/core/duration.h"
#include "common/core/result.h"

namespace autovibe {

struct BusMessage {
  std::string subject;
  std::string reply;  // empty unless the sender waits for an answer
  std::string data;
};

// Unsubscribes when destroyed.
class Subscription {
 public:
  virtual ~Subscription() = default;
};

struct StreamConfig {
  std::string name;                   // e.g. "AV_EVENTS"
  std::vector<std::string> subjects;  // e.g. {"av.evt.>"}
  Duration duplicate_window = std::chrono::minutes(2);
  Duration max_age = std::chrono::hours(24 * 7);
};

struct PublishAck {
  uint64_t sequence = 0;
  bool duplicate = false;  // the stream already held a message with this id
};

class Bus {
 public:
  using Handler = std::function<void(BusMessage)>;
  // `ack` may be called from any thread, once; a message not acked is redelivered.
  using StreamHandler = std::function<void(BusMessage, std::function<void()> ack)>;

  virtual ~Bus() = default;

  // Fire-and-forget publish. Fails only when the connection is closed for good or the
  // reconnect buffer is full.
  virtual Result<void> Publish(std::string_view subject, std::string_view data) = 0;

  // Messages larger than `max_bytes` are dropped, logged and counted as "oversized".
  // `what` names the kind of message in logs and counters ("register", "heartbeat").
  virtual Result<std::unique_ptr<Subscription>> Subscribe(std::string subject, std::string what,
                                                          size_t max_bytes, Handler handler) = 0;

  // Sends `data` and waits up to `timeout` for one reply. Blocks the calling thread: call it
  // from a worker, never from an owner thread. Error codes: "timeout", "no_responders",
  // "unavailable".
  virtual Result<std::string> Request(std::string_view subject, std::string_view data,
                                      Duration timeout) = 0;

  // Sends `data` expecting one reply, without blocking: `done` runs once, on a bus thread (or
  // before this returns when the send fails at once), with the reply or the errors of Request.
  // Safe to call from an owner thread. Not called after the bus is destroyed.
  using ReplyHandler = std::function<void(Result<std::string>)>;
  virtual void RequestAsync(std::string_view subject, std::string_view data, Duration timeout,
                            ReplyHandler done) = 0;

  // JetStream. Creates the stream if missing (file storage); leaves an existing one alone.
  virtual Result<void> EnsureStream(const StreamConfig& config) = 0;
  // Publishes with a message id and waits for the stream's acknowledgement; a message id
  // seen within the stream's duplicate window is stored once.
  virtual Result<PublishAck> StreamPublish(std::string_view subject, std::string_view data,
                                           std::string_view msg_id, Duration timeout) = 0;
  // A durable pull consumer: delivery resumes where the consumer with this name left off,
  // across restarts of this process and of the server. Messages come one at a time, in order.
  virtual Result<std::unique_ptr<Subscription>> ConsumeStream(std::string stream,
                                                              std::string durable,
                                                              std::string filter_subject,
                                                              size_t max_bytes,
                                                              StreamHandler handler) = 0;

  // True while connected to a server.
  virtual bool Connected() const = 0;

  // Counters of messages this process dropped.
  virtual BusStats& Stats() = 0;
};

// TLS to nats-server. Used when the URL is tls:// or any field is set; the server's certificate
// must then chain to the given CA or one of the system's (NATS.c 3.4 always trusts those too)
// and name the URL's host. A nats:// URL to a server that requires TLS is verified the same way.
struct BusTls {
  std::string ca_file;  // PEM: the CA(s) the server's certificate must chain to
  std::string ca_pem;   // the same, inline (what provisioners write into an agent's config)
  // A client certificate and its key (PEM files), for a server that verifies its clients.
  std::string cert_file;
  std::string key_file;
  bool empty() const {
    return ca_file.empty() && ca_pem.empty() && cert_file.empty() && key_file.empty();
  }
};

struct BusOptions {
  std::string url = "nats://127.0.0.1:4222";
  std::string name;  // connection name shown by the server
  std::string user;
  std::string password;
  // Called on a bus thread after every (re)connection, including the first one when the
  // server was down at start.
  std::function<void()> on_connected;
  std::function<void()> on_disconnected;
  // true: every publish is written at once (a request round-trips in ~0.2 ms). false: a
  // library thread writes publishes in batches, which costs the publisher far fewer system
  // calls under load and adds well under a millisecond.
  bool write_at_once = true;
  // Replaces "_INBOX" in reply subjects, so bus permissions can give a machine its own
  // inboxes only ("_INBOX_<machine id>"). Empty: the default.
  std::string inbox_prefix;
  BusTls tls;
};

// Connects to NATS. If the server is not reachable yet the bus keeps trying in the
// background (exponential backoff up to 2 s, with jitter; each failure's reason is logged when
// it changes, and once a minute while it lasts) and this still succeeds. Requests and
// publishes fail fast while disconnected. Errors: bad_config (bad options, a CA or client
// certificate that cannot be read), and, when the server is reachable but refuses this client
// at the first contact: tls (its certificate is not signed by the CA given, has expired or
// names another host; the server wants TLS and no CA was given), unauthorized (the user or
// password).
Result<std::unique_ptr<Bus>> ConnectNats(BusOptions options);

// Connects once with these credentials and hangs up: whether the server accepts them now
// (after a reload of its authorization, say). Errors: unavailable or timeout (not reachable),
// unauthorized (the server refused the user or password), tls (see ConnectNats), bad_config.
Result<void> CheckNatsLogin(const std::string& url, const std::string& user,
                            const std::string& password, Duration timeout, const BusTls& tls = {});

// Blocks while the server at `options.url` refuses this client's TLS handshake (ConnectNats
// would fail with tls), logging why (when the reason changes, and once a minute) and trying
// again with backoff up to 5 s. Returns once the server accepts the handshake, refuses for
// another reason, or cannot be reached (ConnectNats then keeps trying in the background).
// For a daemon's start, before its signal handlers: a SIGTERM meanwhile ends the process.
void AwaitTrustedBus(const BusOptions& options);

// Waits for NATS.c's library threads to end; call once at process exit, after every Bus is gone.
void ShutdownNatsLibrary();

// Parses a protobuf message from a bus payload. On failure records the message as rejected
// ("undecodable") and returns nothing.
template <class Proto>
std::optional<Proto> DecodeOrReject(Bus& bus, const BusMessage& msg, std::string_view what) {
  Proto out;
  if (!out.ParseFromString(msg.data)) {
    bus.Stats().Reject(what, "undecodable", msg.subject, msg.data.size());
    return std::nullopt;
  }
  return out;
}

}  // namespace autovibe
