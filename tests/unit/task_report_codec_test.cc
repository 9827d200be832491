// A task's report as the store keeps it: what a tool said of its run survives a controller
// restart, the token figures a tool reports (codex) included, and an older row without them
// reads as none.
#include <catch2/catch.hpp>

#include "controller/store/task_codec.h"

namespace autovibe {
namespace {

TEST_CASE("a task report round-trips through the store's encoding", "[store]") {
  TaskReport r;
  r.turns = 3;
  r.session_id = "01a24b45-38b9-74a0-aa8d-aad3a5047246";
  r.result_subtype = "turn.completed";
  r.reported_input_tokens = 10139;
  r.reported_output_tokens = 46;
  r.reported_cache_read_tokens = 5120;
  r.reported_cache_write_tokens = 7;
  const TaskReport back = DecodeTaskReport(EncodeTaskReport(r));
  CHECK(back.turns == 3);
  CHECK(back.session_id == r.session_id);
  CHECK(back.result_subtype == "turn.completed");
  CHECK(back.reported_input_tokens == 10139);
  CHECK(back.reported_output_tokens == 46);
  CHECK(back.reported_cache_read_tokens == 5120);
  CHECK(back.reported_cache_write_tokens == 7);

  const TaskReport old = DecodeTaskReport(
      R"({"turns":2,"session_id":"s","cost_micros":135563,"result_subtype":"success"})");
  CHECK(old.reported_cost_micros == 135563);
  CHECK(old.reported_input_tokens == 0);
  CHECK(old.reported_output_tokens == 0);
}

}  // namespace
}  // namespace autovibe
