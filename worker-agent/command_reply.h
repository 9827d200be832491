// The agent's answer to a controller command: the command's id, ok or the error (its message
// and code), and whatever results the command gives back.
#pragma once

#include "autovibe/v1/command.pb.h"
#include "common/core/result.h"

namespace autovibe {

inline v1::CommandReply AnswerTo(const v1::Command& cmd, Result<v1::CommandReply> r) {
  v1::CommandReply reply = r ? std::move(*r) : v1::CommandReply();
  reply.set_command_id(cmd.command_id());
  reply.set_ok(r.has_value());
  if (!r) {
    reply.set_error(r.error().message);
    reply.set_error_code(std::string(ErrorName(r.error().code)));
  }
  return reply;
}

inline v1::CommandReply AnswerTo(const v1::Command& cmd, const Error& e) {
  return AnswerTo(cmd, Result<v1::CommandReply>(e));
}

inline v1::CommandReply AnswerTo(const v1::Command& cmd, const Result<void>& r) {
  if (!r) return AnswerTo(cmd, r.error());
  return AnswerTo(cmd, v1::CommandReply());
}

}  // namespace autovibe
