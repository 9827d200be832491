// Every state-changing API request (a /v1 request other than GET and HEAD) leaves one audit
// record once it is answered, refused ones included: the caller's token name, the route, the
// object and project it concerned, the client's address, the status and error. From the body
// only a few named fields are kept (never a secret's value, a token, a prompt, a command, an
// environment or a URL). The answer goes out once the record is durable. Owner-thread only.
#pragma once

#include <functional>
#include <optional>
#include <string>

#include "common/http/http.h"
#include "controller/api/caller.h"
#include "controller/model/audit_log.h"

namespace autovibe {

// What a request says before it is answered: actor, action, object, project, address, the
// safe fields of its body. AnswerRecord fills in the rest. (Exposed for tests.)
AuditRecord RequestRecord(const HttpRequest& req, const std::string& route,
                          const std::optional<Caller>& caller);
void AnswerRecord(AuditRecord& r, const HttpResponse& res);

class RequestAudit {
 public:
  // `after_commit` runs its function once what was written is durable (WriteBatch).
  RequestAudit(AuditLog& log, std::function<void(std::function<void()>)> after_commit)
      : log_(log), after_commit_(std::move(after_commit)) {}

  // Whether `req` is recorded.
  static bool Audited(const HttpRequest& req);

  // Records `req`, answered with `res` (now or later), and returns the response to send: the
  // same, given to the client once the record is durable.
  HttpResponse Answered(const HttpRequest& req, const std::string& route,
                        const std::optional<Caller>& caller, HttpResponse res);
  // Records a request refused on its head (no valid token), whose answer cannot wait.
  void Refused(const HttpRequest& head, const std::string& route, const HttpResponse& res) {
    Finish(RequestRecord(head, route, std::nullopt), res);
  }

 private:
  void Finish(AuditRecord r, const HttpResponse& res);

  AuditLog& log_;
  std::function<void(std::function<void()>)> after_commit_;
};

}  // namespace autovibe
