// The daemons' settings for TLS to nats-server, the same in the agent's and the controller's
// config files and flags: nats_ca (--nats-ca), nats_cert (--nats-cert), nats_key (--nats-key),
// and nats_ca_pem (the CA inline, as provisioners write it into an agent's config).
#pragma once

#include <toml++/toml.h>

#include <CLI/CLI.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "common/bus/bus.h"

namespace autovibe {

// Reads `key` into `tls` when it is one of the keys above: nothing when it is not (the caller
// goes on), else the result of reading it.
std::optional<Result<void>> TomlBusTls(std::string_view key, const toml::node& node, BusTls& tls);

// The flags, into `flags`; ApplyBusTlsFlags then overrides what the file said.
void AddBusTlsFlags(CLI::App& app, BusTls& flags);
void ApplyBusTlsFlags(const BusTls& flags, BusTls& tls);

}  // namespace autovibe
