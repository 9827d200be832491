#include <boost/json.hpp>

#include "common/http/http.h"

namespace autovibe {

HttpResponse JsonError(int status, std::string_view code, std::string_view message) {
  boost::json::object err{{"code", code}, {"message", message}};
  HttpResponse r;
  r.status = status;
  r.body = boost::json::serialize(boost::json::object{{"error", err}}) + "\n";
  return r;
}

}  // namespace autovibe
