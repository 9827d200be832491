// What a request's conversation makes the provider bring in that the request's bytes do not
// show: an image or document fetched from a URL or the provider's file store, a stored
// response, conversation or prompt. Their tokens are billed as input, yet a byte-sized request
// can name a 300-page PDF, so the proxy cannot bound such a call and refuses it (request.h).
// Images and documents sent inline (base64, data: URLs, text) are in the bytes and bounded.
//
// Fed by the request scanner's SAX events; it follows only the conversation's structure
// (messages or input, their content parts, nested tool results, a part's source, image_url
// and file), so a tool's input or schema that happens to hold a "url" or "file_id" is not
// mistaken for one.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace autovibe::meter {

class ContentScan {
 public:
  ContentScan() { frames_.reserve(16); }

  // A container opens (after its key, if any) and closes.
  void Open(bool array);
  void Close();
  void KeyPart(std::string_view s);
  void Key(std::string_view s);
  void StringPart(std::string_view s);
  void String(std::string_view s);
  // A number, a bool, or null (`null`).
  void Scalar(bool null);

  // Why the call cannot be bounded ("" when it can).
  const std::string& unbounded() const { return why_; }

 private:
  enum class Frame : uint8_t {
    kOther,     // nothing of interest below
    kRoot,      // the request
    kItems,     // messages / input
    kItem,      // a message or input item
    kParts,     // a content array (a message's, a tool result's, a document's)
    kPart,      // a content part
    kSource,    // an Anthropic part's source
    kImageUrl,  // an OpenAI chat part's image_url object
    kFile,      // an OpenAI chat part's file object
  };
  Frame Top() const { return frames_.empty() ? Frame::kOther : frames_.back(); }
  // The member `key_` of the current container: what it holds is looked at.
  bool Watched() const;
  void Check(std::string_view value, bool null);
  void Refuse(std::string why);

  std::vector<Frame> frames_;
  std::string key_, key_part_;
  std::string value_;  // the first bytes of a watched string value
  std::string why_;
};

}  // namespace autovibe::meter
