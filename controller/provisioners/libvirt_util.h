// What the libvirt backend and the KVM probe both need of libvirt's C API: its errors as
// values, and XML-escaped text for the domain descriptions they write.
#pragma once

#include <string>
#include <string_view>

namespace autovibe {

// libvirt prints every error to stderr unless told otherwise; ours are returned as values.
void SilenceLibvirtErrors();
// The message and code (virErrorNumber) of the calling thread's last libvirt error.
std::string LibvirtLastError();
int LibvirtLastErrorCode();

// `s` fit for an XML attribute or element.
std::string XmlEscape(std::string_view s);

}  // namespace autovibe
