#include "common/bus/bus_tls_config.h"

#include "common/core/config_file.h"

namespace autovibe {

std::optional<Result<void>> TomlBusTls(std::string_view key, const toml::node& node, BusTls& tls) {
  if (key == "nats_ca") return TomlString(node, key, tls.ca_file);
  if (key == "nats_ca_pem") return TomlString(node, key, tls.ca_pem);
  if (key == "nats_cert") return TomlString(node, key, tls.cert_file);
  if (key == "nats_key") return TomlString(node, key, tls.key_file);
  return std::nullopt;
}

void AddBusTlsFlags(CLI::App& app, BusTls& flags) {
  app.add_option("--nats-ca", flags.ca_file,
                 "CA file (PEM) nats-server's certificate must be signed by: the bus then speaks "
                 "TLS, and a server it does not verify is refused");
  app.add_option("--nats-cert", flags.cert_file,
                 "client certificate (PEM) for a nats-server that verifies its clients");
  app.add_option("--nats-key", flags.key_file, "the client certificate's key (PEM)");
}

void ApplyBusTlsFlags(const BusTls& flags, BusTls& tls) {
  Override(tls.ca_file, flags.ca_file);
  Override(tls.cert_file, flags.cert_file);
  Override(tls.key_file, flags.key_file);
  // A CA named on the command line wins over one inline in the file.
  if (!flags.ca_file.empty()) tls.ca_pem.clear();
}

}  // namespace autovibe
