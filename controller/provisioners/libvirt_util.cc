#include "controller/provisioners/libvirt_util.h"

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

namespace autovibe {
namespace {

void IgnoreLibvirtError(void*, virErrorPtr) {}

}  // namespace

void SilenceLibvirtErrors() { virSetErrorFunc(nullptr, IgnoreLibvirtError); }

std::string LibvirtLastError() {
  const char* m = virGetLastErrorMessage();
  return m == nullptr ? "unknown libvirt error" : m;
}

int LibvirtLastErrorCode() {
  virErrorPtr e = virGetLastError();
  return e == nullptr ? VIR_ERR_OK : e->code;
}

std::string XmlEscape(std::string_view s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '\'':
        out += "&apos;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

}  // namespace autovibe
