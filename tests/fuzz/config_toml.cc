// TOML config: the agent's and the controller's config files (pools included), and the
// metering proxy's price table, each loaded and then validated as the daemons do at start.
// The first byte picks the parser; the rest is the file.
#include "controller/config.h"
#include "tests/fuzz/fuzz_target.h"
#include "worker-agent/agent_config.h"
#include "worker-agent/meter/prices.h"

using namespace autovibe;

AV_FUZZ_TARGET(config_toml) {
  fuzz::Input in(data, size);
  const size_t which = in.Pick(3);
  const std::string_view text = in.Rest();
  if (which == 0) {
    AgentConfig config;
    if (LoadAgentConfigToml(text, config)) (void)ValidateAgentConfig(config);
  } else if (which == 1) {
    ControllerConfig config;
    if (LoadControllerConfigToml(text, config)) {
      (void)ValidateControllerConfig(config);
      (void)RequireBusUsers(config);
    }
  } else if (auto table = meter::PriceTable::Parse(text)) {
    (void)table->Find("claude-sonnet-4-5");
    (void)table->Highest().RatesFor(meter::TierNamed("priority"), 300'000).dearest_input();
  }
}
