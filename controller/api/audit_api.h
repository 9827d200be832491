// GET /v1/audit and GET /v1/audit/verify: the audit log, filtered and paged, and the check of
// its hash chain. Owner-thread only.
#pragma once

#include <boost/asio/io_context.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "common/core/time.h"
#include "common/http/http.h"
#include "controller/audit/audit_trail.h"

namespace autovibe {

struct AuditApiDeps {
  AuditTrail* trail = nullptr;
  boost::asio::io_context* ioc = nullptr;  // verification pages run one post at a time
  const Clock* clock = nullptr;            // "since=1h" is an hour before now
};

class AuditApi {
 public:
  explicit AuditApi(AuditApiDeps deps) : d_(deps) {}

  static bool Handles(const std::vector<std::string_view>& seg) {
    return seg.size() >= 2 && seg[1] == "audit";
  }
  // GET /v1/audit?actor=&project=&object=KIND/ID|KIND/|ID&since=&until=&limit=&cursor=&order=
  //   {"records":[...] newest first (order=asc: oldest first), "next_cursor" when more may
  //   follow, "anchor":{"seq","hash","at"}}. since/until: RFC 3339 or a duration before now
  //   ("1h"). Anything else in the query, or a bad value: 400.
  // GET /v1/audit/verify: {"ok","checked","first_seq","last_seq","head_hash","anchor",
  //   "broken":{"seq","problem"} when not ok}.
  HttpResponse Route(const HttpRequest& req, const std::vector<std::string_view>& seg,
                     std::string& route);

 private:
  HttpResponse List(const HttpRequest& req);
  HttpResponse Verify();

  AuditApiDeps d_;
};

}  // namespace autovibe
