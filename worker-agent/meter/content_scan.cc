#include "worker-agent/meter/content_scan.h"

namespace autovibe::meter {
namespace {

// Enough of a value to tell "data:" URLs and the few type names apart.
constexpr size_t kValuePrefix = 32;

bool Inline(std::string_view url) { return url.starts_with("data:"); }

}  // namespace

bool ContentScan::Watched() const {
  switch (Top()) {
    case Frame::kRoot:
      return key_ == "previous_response_id" || key_ == "conversation" || key_ == "prompt";
    case Frame::kItem:
    case Frame::kSource:
      return key_ == "type";
    case Frame::kPart:
      return key_ == "image_url" || key_ == "file_id" || key_ == "file_url";
    case Frame::kImageUrl:
      return key_ == "url";
    case Frame::kFile:
      return key_ == "file_id";
    default:
      return false;
  }
}

void ContentScan::Open(bool array) {
  const Frame parent = Top();
  Frame f = Frame::kOther;
  if (frames_.empty()) {
    f = array ? Frame::kOther : Frame::kRoot;
  } else if (parent == Frame::kRoot && array && (key_ == "messages" || key_ == "input")) {
    f = Frame::kItems;
  } else if (parent == Frame::kItems && !array) {
    f = Frame::kItem;
  } else if ((parent == Frame::kItem && array && (key_ == "content" || key_ == "output")) ||
             ((parent == Frame::kPart || parent == Frame::kSource) && array && key_ == "content")) {
    f = Frame::kParts;
  } else if (parent == Frame::kParts && !array) {
    f = Frame::kPart;
  } else if (parent == Frame::kPart && !array) {
    f = key_ == "source"      ? Frame::kSource
        : key_ == "image_url" ? Frame::kImageUrl
        : key_ == "file"      ? Frame::kFile
                              : Frame::kOther;
  }
  // A stored response, conversation or prompt given as an object is one all the same.
  if (parent == Frame::kRoot && Watched()) Check("", false);
  frames_.push_back(f);
  key_.clear();
}

void ContentScan::Close() {
  if (!frames_.empty()) frames_.pop_back();
  key_.clear();
}

void ContentScan::KeyPart(std::string_view s) {
  if (Top() != Frame::kOther) key_part_.append(s);
}

void ContentScan::Key(std::string_view s) {
  if (Top() == Frame::kOther) return;
  key_part_.append(s);
  key_.swap(key_part_);
  key_part_.clear();
}

void ContentScan::StringPart(std::string_view s) {
  if (!Watched()) return;
  if (value_.size() < kValuePrefix) value_.append(s.substr(0, kValuePrefix - value_.size()));
}

void ContentScan::String(std::string_view s) {
  if (Watched()) {
    if (value_.size() < kValuePrefix) value_.append(s.substr(0, kValuePrefix - value_.size()));
    Check(value_, false);
  }
  value_.clear();
}

void ContentScan::Scalar(bool null) {
  if (Watched()) Check("", null);
}

void ContentScan::Check(std::string_view value, bool null) {
  switch (Top()) {
    case Frame::kRoot:
      if (!null) Refuse("\"" + key_ + "\" bills stored context the request does not show");
      break;
    case Frame::kItem:
      if (value == "item_reference") Refuse("an item_reference bills a stored item");
      break;
    case Frame::kSource:
      if (value == "url" || value == "file") {
        Refuse("a " + std::string(value) +
               " source is fetched by the provider and billed by what it holds; send it inline "
               "(base64 or text)");
      }
      break;
    case Frame::kPart:
      if (key_ == "image_url" && Inline(value)) break;
      Refuse("\"" + key_ +
             "\" makes the provider fetch content billed by what it holds; send it "
             "inline (a data: URL or file_data)");
      break;
    case Frame::kImageUrl:
      if (!Inline(value)) {
        Refuse(
            "an image_url that is not a data: URL is fetched by the provider and billed by "
            "its size");
      }
      break;
    case Frame::kFile:
      Refuse("a file_id bills a stored file; send it inline (file_data)");
      break;
    default:
      break;
  }
}

void ContentScan::Refuse(std::string why) {
  if (why_.empty()) why_ = std::move(why);
}

}  // namespace autovibe::meter
