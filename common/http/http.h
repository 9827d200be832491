// Plain HTTP request and response values shared by the server and the client.
#pragma once

#include <map>
#include <string>
#include <vector>

namespace autovibe {

struct HttpRequest {
  std::string method;  // "GET", "POST", ...
  std::string target;  // as sent: "/v1/machines?x=1"
  std::string path;    // decoded path without the query: "/v1/machines"
  std::map<std::string, std::string> query;
  std::string authorization;  // the Authorization header, if any
  std::string content_type;
  std::string body;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
};

// {"error":{"code":..,"message":..}} with the given status.
HttpResponse JsonError(int status, std::string_view code, std::string_view message);

}  // namespace autovibe
