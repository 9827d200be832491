#include "common/core/log.h"

#include <spdlog/sinks/stdout_sinks.h>

namespace autovibe {

void InitLogging(std::string_view program, std::string_view level) {
  // stderr_sink_mt: unbuffered-enough for supervisors to read line by line; mutex because
  // NATS.c callback threads may log too.
  auto logger = spdlog::stderr_logger_mt(std::string(program) + "-" + std::to_string(rand()));
  logger->set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %l " + std::string(program) + " %v",
                      spdlog::pattern_time_type::utc);
  logger->set_level(spdlog::level::from_str(std::string(level)));
  logger->flush_on(spdlog::level::info);
  spdlog::set_default_logger(logger);
}

}  // namespace autovibe
