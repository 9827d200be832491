#include "controller/notify/webhook_rules.h"

#include <openssl/pem.h>
#include <openssl/x509.h>

#include <algorithm>
#include <boost/asio/ip/address.hpp>
#include <boost/url/parse.hpp>
#include <memory>

#include "common/core/files.h"
#include "common/core/ids.h"

namespace autovibe {
namespace {

Error Bad(std::string message) { return MakeError(ErrorCode::kBadRequest, std::move(message)); }

Result<void> CheckUrl(const std::string& text, const WebhookRules& rules) {
  if (text.size() > kMaxWebhookUrl) {
    return Bad("url is longer than " + std::to_string(kMaxWebhookUrl) + " characters");
  }
  auto url = boost::urls::parse_absolute_uri(text);
  if (!url || (url->scheme() != "http" && url->scheme() != "https") || url->host().empty()) {
    return Bad("url must be an https:// (or, to loopback, http://) URL");
  }
  if (url->has_userinfo()) {
    return Bad("url must not hold a user or password: it is shown to whoever lists webhooks");
  }
  if (url->scheme() == "http" && !rules.allow_http && !LoopbackHost(url->host())) {
    return Bad(
        "url must be https:// (plain http:// only to loopback unless the controller sets "
        "webhook_allow_http)");
  }
  return {};
}

Result<std::vector<NotificationKind>> CheckKinds(const std::vector<std::string>& names) {
  if (names.empty()) return Bad("kinds must name at least one kind of event");
  std::vector<NotificationKind> kinds;
  for (const std::string& name : names) {
    auto k = ParseSubscribableKind(name);
    if (!k) {
      std::string known;
      for (NotificationKind s : SubscribableKinds()) {
        known += (known.empty() ? "" : ", ") + std::string(ToString(s));
      }
      return Bad("unknown kind \"" + name.substr(0, 40) + "\" (kinds: " + known + ")");
    }
    if (std::find(kinds.begin(), kinds.end(), *k) == kinds.end()) kinds.push_back(*k);
  }
  return kinds;
}

Result<std::string> CheckSecret(const std::string& secret) {
  if (secret.empty()) return "whsec_" + NewSecret(32);
  const bool printable = std::all_of(secret.begin(), secret.end(), [](char c) {
    return static_cast<unsigned char>(c) > 32 && static_cast<unsigned char>(c) < 127;
  });
  if (secret.size() < 16 || secret.size() > 256 || !printable) {
    return Bad("secret must be 16 to 256 printable characters without spaces");
  }
  return secret;
}

// At least one certificate, and nothing but certificates.
Result<void> CheckPem(const std::string& pem) {
  if (pem.size() > kMaxWebhookCaBytes) return Bad("the CA is larger than 64 KiB");
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(
      BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), BIO_free);
  int certs = 0;
  while (X509* x = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) {
    X509_free(x);
    ++certs;
  }
  if (certs == 0) return Bad("the CA is not a PEM certificate");
  return {};
}

Result<std::string> CheckCa(const WebhookRequest& req) {
  if (!req.ca_pem.empty() && !req.ca_file.empty()) return Bad("give ca_pem or ca_file, not both");
  std::string pem = req.ca_pem;
  if (!req.ca_file.empty()) {
    auto read = ReadFile(req.ca_file);
    if (!read) return Bad("ca_file " + req.ca_file.substr(0, 200) + " cannot be read");
    pem = std::move(*read);
  }
  if (pem.empty()) return pem;
  if (req.url.starts_with("http://")) return Bad("a CA means nothing to an http:// url");
  if (auto r = CheckPem(pem); !r) return r.error();
  return pem;
}

}  // namespace

bool LoopbackHost(std::string_view host) {
  if (host == "localhost") return true;
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  boost::system::error_code ec;
  auto addr = boost::asio::ip::make_address(std::string(host), ec);
  return !ec && addr.is_loopback();
}

Result<Webhook> MakeWebhook(const WebhookRequest& req, const WebhookRules& rules) {
  if (auto r = CheckUrl(req.url, rules); !r) return r.error();
  auto kinds = CheckKinds(req.kinds);
  if (!kinds) return kinds.error();
  if (!req.project.empty() && (!rules.project_exists || !rules.project_exists(req.project))) {
    return Bad("no project \"" + req.project.substr(0, 80) + "\"");
  }
  auto format = ParseWebhookFormat(req.format);
  if (!format) return Bad("format must be json or slack");
  auto secret = CheckSecret(req.secret);
  if (!secret) return secret.error();
  auto ca = CheckCa(req);
  if (!ca) return ca.error();
  return Webhook{.url = req.url,
                 .kinds = std::move(*kinds),
                 .project = req.project,
                 .format = *format,
                 .secret = std::move(*secret),
                 .ca_pem = std::move(*ca)};
}

}  // namespace autovibe
