// Splits a Server-Sent Events stream (text/event-stream), fed in pieces of any size, into
// events, for reading usage figures out of a streamed answer as it passes through.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

namespace autovibe::meter {

class SseSplitter {
 public:
  // Called with each event's name ("" when the stream names none) and its data lines joined
  // by '\n'.
  using OnEvent = std::function<void(std::string_view event, std::string_view data)>;
  // Whether the data of an event with this name is wanted. The data of unwanted events is
  // dropped as it arrives, so large events nobody reads cost no memory. Null: all are wanted.
  using Wanted = std::function<bool(std::string_view event)>;

  SseSplitter(size_t max_event_bytes, OnEvent on_event, Wanted wanted = nullptr);

  // Lines may end in CRLF, LF or CR, and a piece may end anywhere, even between CR and LF.
  // Once a wanted event (or a single line) grows past max_event_bytes the splitter stops:
  // overflowed() is true and later bytes are ignored.
  void Feed(std::string_view bytes);
  bool overflowed() const { return overflowed_; }

 private:
  void Line(std::string_view line);
  void Dispatch();

  size_t max_event_bytes_;
  OnEvent on_event_;
  Wanted wanted_;
  std::string partial_;  // a line begun in an earlier piece
  std::string event_;
  std::string data_;
  bool has_data_ = false;
  bool skipping_ = false;  // the current event is unwanted
  bool after_cr_ = false;  // the last byte seen was a CR: an LF right after it ends no line
  bool overflowed_ = false;
};

}  // namespace autovibe::meter
