// The agent's own bus user. A machine the controller provisions is given one in its config;
// an agent started by hand, by Terraform or by cloud-init enrols with a one-time join token
// (`autovibe machines join-token create`): it logs in as the token's bus user, asks on
// <p>.join.<token id>, and gets back a machine id and a bus user of its own, which it keeps in
// <data_dir>/bus-user.toml (mode 0600) and uses on every later start. The token is then used
// up: no two machines share a bus user.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <utility>

#include "common/core/result.h"
#include "worker-agent/agent_config.h"

namespace autovibe {

// What the agent keeps after joining.
struct BusUser {
  std::string machine_id;
  std::string nats_user;
  std::string nats_password;
  std::map<std::string, std::string> labels;  // the token's pool
};

// "<data_dir>/bus-user.toml".
std::string BusUserFile(const std::string& data_dir);

// "j-0123456789ab.<hex secret>" -> (id, secret). Errors: bad_config, never echoing the secret.
Result<std::pair<std::string, std::string>> SplitJoinToken(std::string_view token);

// Reads and writes the kept bus user. Reading a file that is not 0600 makes it so. Errors:
// not_found (no file), bad_config (damaged), io.
Result<BusUser> ReadBusUser(const std::string& path);
Result<void> WriteBusUser(const std::string& path, const BusUser& user);

// Gives `config` a bus user before the agent connects: the one in its config if named there,
// else the one kept in the data dir, else one got with the join token (the token from
// join_token or join_token_file), waiting for the bus while it cannot be reached. With none
// of these the config is left as it is (an insecure bus), unless the bus refuses anonymous
// clients. Blocks. Errors: unauthorized (the bus refused the token: unknown, used or expired;
// or it has users and the agent none), conflict (the controller refused the token, saying
// why), bad_config, io.
Result<void> EnrolOnBus(AgentConfig& config);

}  // namespace autovibe
