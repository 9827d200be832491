// Every state-changing API request (a /v1 request other than GET and HEAD) leaves one audit
// record once it is answered, refused ones included: the caller's token name, the route, the
// object and project it concerned, the client's address, the status and error. From the body
// only a few named fields are kept (never a secret's value, a token, a prompt, a command, an
// environment or a URL). The answer goes out once the record is durable. Owner-thread only.
#pragma once

#include <functional>
#include <optional>
#include <string>

#include "common/core/result.h"
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
  // `commit` makes what was written durable now (WriteBatch::Commit): most routes commit
  // their own change the same way, and a request waits for no group commit.
  RequestAudit(AuditLog& log, std::function<Result<void>()> commit)
      : log_(log), commit_(std::move(commit)) {}

  // Whether `req` is recorded.
  static bool Audited(const HttpRequest& req);

  // Records `req`, answered with `res` (now or later), and returns the response to send: the
  // same once the record is durable; a 503 if it could not be written (the controller then
  // stops, as on any failed commit).
  // `owner`: the project of the object the request names, as the controller knew it before
  // the request ran; it wins over what the body says.
  HttpResponse Answered(const HttpRequest& req, const std::string& route,
                        const std::optional<Caller>& caller, HttpResponse res,
                        std::optional<std::string> owner = std::nullopt);
  // Records a request refused on its head (no valid token), whose answer cannot wait.
  void Refused(const HttpRequest& head, const std::string& route, const HttpResponse& res) {
    AuditRecord r = RequestRecord(head, route, std::nullopt);
    AnswerRecord(r, res);
    log_.Record(std::move(r));  // committed with the batch: nothing waits for it
  }

 private:
  // Records the answered request and commits; the response to send.
  HttpResponse Finish(AuditRecord r, HttpResponse res, const std::optional<std::string>& owner);

  AuditLog& log_;
  std::function<Result<void>()> commit_;
};

}  // namespace autovibe
