#include "worker-agent/meter/sse.h"

namespace autovibe::meter {

SseSplitter::SseSplitter(size_t max_event_bytes, OnEvent on_event, Wanted wanted)
    : max_event_bytes_(max_event_bytes),
      on_event_(std::move(on_event)),
      wanted_(std::move(wanted)) {}

void SseSplitter::Feed(std::string_view bytes) {
  size_t pos = 0;
  while (pos < bytes.size() && !overflowed_) {
    if (after_cr_) {
      after_cr_ = false;
      if (bytes[pos] == '\n') {
        ++pos;
        continue;
      }
    }
    size_t end = bytes.find_first_of("\r\n", pos);
    if (end == std::string_view::npos) {
      // An unfinished line: keep it for the next piece, unless it is the data of an event
      // nobody reads (kept only up to its field name) or already too long.
      std::string_view rest = bytes.substr(pos);
      if (skipping_ && partial_.size() + rest.size() > 8) {
        if (partial_.size() < 8) partial_.append(rest.substr(0, 8 - partial_.size()));
      } else {
        partial_.append(rest);
        if (partial_.size() > max_event_bytes_) overflowed_ = true;
      }
      return;
    }
    after_cr_ = bytes[end] == '\r';
    if (partial_.empty()) {
      Line(bytes.substr(pos, end - pos));
    } else {
      if (!skipping_) partial_.append(bytes.substr(pos, end - pos));
      Line(partial_);
      partial_.clear();
    }
    pos = end + 1;
  }
}

void SseSplitter::Line(std::string_view line) {
  if (line.empty()) {
    Dispatch();
    return;
  }
  if (line.front() == ':') return;  // a comment (keep-alive)
  size_t colon = line.find(':');
  std::string_view field = line.substr(0, colon);
  std::string_view value;
  if (colon != std::string_view::npos) {
    value = line.substr(colon + 1);
    if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  }
  if (field == "event") {
    event_.assign(value);
    skipping_ = wanted_ && !wanted_(event_);
    if (skipping_) {
      data_.clear();
      has_data_ = false;
    }
  } else if (field == "data" && !skipping_) {
    if (has_data_) data_.push_back('\n');
    data_.append(value);
    has_data_ = true;
    if (data_.size() > max_event_bytes_) overflowed_ = true;
  }
}

void SseSplitter::Dispatch() {
  if (has_data_ && !skipping_ && (!wanted_ || wanted_(event_))) {
    on_event_(event_, data_);
  }
  event_.clear();
  data_.clear();
  has_data_ = false;
  skipping_ = false;
}

}  // namespace autovibe::meter
