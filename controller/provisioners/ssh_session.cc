#include "controller/provisioners/ssh_session.h"

#include <arpa/inet.h>
#include <libssh2.h>
#include <libssh2_sftp.h>
#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

#include <charconv>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <mutex>

namespace autovibe {
namespace {

constexpr size_t kMaxOutput = 64 * 1024;

void InitOnce() {
  static std::once_flag once;
  std::call_once(once, [] { libssh2_init(0); });
}

std::string LastError(LIBSSH2_SESSION* s) {
  char* msg = nullptr;
  libssh2_session_last_error(s, &msg, nullptr, 0);
  return msg != nullptr ? msg : "unknown error";
}

int Connect(const SshTarget& t, std::chrono::milliseconds timeout, std::string& why) {
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  if (int rc = getaddrinfo(t.host.c_str(), std::to_string(t.port).c_str(), &hints, &res); rc) {
    why = gai_strerror(rc);
    return -1;
  }
  int fd = -1;
  for (addrinfo* a = res; a != nullptr && fd < 0; a = a->ai_next) {
    fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) continue;
    timeval tv{static_cast<time_t>(timeout.count() / 1000),
               static_cast<suseconds_t>((timeout.count() % 1000) * 1000)};
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    if (connect(fd, a->ai_addr, a->ai_addrlen) != 0) {
      why = std::strerror(errno);
      close(fd);
      fd = -1;
    }
  }
  freeaddrinfo(res);
  return fd;
}

}  // namespace

struct SshSession::State {
  int fd = -1;
  LIBSSH2_SESSION* session = nullptr;
  ~State() {
    if (session != nullptr) {
      libssh2_session_disconnect(session, "bye");
      libssh2_session_free(session);
    }
    if (fd >= 0) close(fd);
  }
};

Result<SshTarget> ParseSshTarget(const std::string& text) {
  SshTarget t;
  std::string rest = text;
  if (auto at = rest.find('@'); at != std::string::npos) {
    t.user = rest.substr(0, at);
    rest = rest.substr(at + 1);
  }
  if (auto colon = rest.rfind(':'); colon != std::string::npos) {
    unsigned port = 0;
    const std::string p = rest.substr(colon + 1);
    auto [end, ec] = std::from_chars(p.data(), p.data() + p.size(), port);
    if (ec != std::errc() || end != p.data() + p.size() || port == 0 || port > 65535) {
      return MakeError(ErrorCode::kBadConfig, "bad port in ssh host \"" + text + "\"");
    }
    t.port = static_cast<uint16_t>(port);
    rest = rest.substr(0, colon);
  }
  t.host = rest;
  if (t.host.empty() || t.user.empty()) {
    return MakeError(ErrorCode::kBadConfig,
                     "ssh host \"" + text + "\" must look like user@host[:port]");
  }
  return t;
}

SshSession::SshSession(std::unique_ptr<State> state) : s_(std::move(state)) {}
SshSession::~SshSession() = default;

Result<std::unique_ptr<SshSession>> SshSession::Open(const SshTarget& t, const SshCredentials& c,
                                                     std::chrono::milliseconds timeout) {
  InitOnce();
  auto st = std::make_unique<State>();
  std::string why;
  st->fd = Connect(t, timeout, why);
  if (st->fd < 0) return MakeError(ErrorCode::kUnavailable, "cannot reach " + t.str() + ": " + why);
  st->session = libssh2_session_init();
  if (st->session == nullptr) return MakeError(ErrorCode::kUnavailable, "libssh2 session failed");
  libssh2_session_set_blocking(st->session, 1);
  libssh2_session_set_timeout(st->session, static_cast<long>(timeout.count()));
  if (libssh2_session_handshake(st->session, st->fd) != 0) {
    return MakeError(ErrorCode::kUnavailable,
                     "ssh handshake with " + t.str() + " failed: " + LastError(st->session));
  }
  // Host key: trust on first use, refuse a change.
  size_t key_len = 0;
  int key_type = 0;
  const char* key = libssh2_session_hostkey(st->session, &key_len, &key_type);
  if (key == nullptr) return MakeError(ErrorCode::kUnavailable, t.str() + " sent no host key");
  LIBSSH2_KNOWNHOSTS* known = libssh2_knownhost_init(st->session);
  std::unique_ptr<LIBSSH2_KNOWNHOSTS, decltype(&libssh2_knownhost_free)> guard(
      known, libssh2_knownhost_free);
  libssh2_knownhost_readfile(known, c.known_hosts.c_str(), LIBSSH2_KNOWNHOST_FILE_OPENSSH);
  const int type_mask = LIBSSH2_KNOWNHOST_TYPE_PLAIN | LIBSSH2_KNOWNHOST_KEYENC_RAW;
  libssh2_knownhost* found = nullptr;
  const int check =
      libssh2_knownhost_checkp(known, t.host.c_str(), t.port, key, key_len, type_mask, &found);
  if (check == LIBSSH2_KNOWNHOST_CHECK_MISMATCH) {
    return MakeError(ErrorCode::kUnauthorized, "the host key of " + t.str() +
                                                   " changed since it was "
                                                   "first seen (see " +
                                                   c.known_hosts + ")");
  }
  if (check != LIBSSH2_KNOWNHOST_CHECK_MATCH) {
    int key_bit = 0;
    switch (key_type) {
      case LIBSSH2_HOSTKEY_TYPE_RSA:
        key_bit = LIBSSH2_KNOWNHOST_KEY_SSHRSA;
        break;
      case LIBSSH2_HOSTKEY_TYPE_ED25519:
        key_bit = LIBSSH2_KNOWNHOST_KEY_ED25519;
        break;
      case LIBSSH2_HOSTKEY_TYPE_ECDSA_256:
        key_bit = LIBSSH2_KNOWNHOST_KEY_ECDSA_256;
        break;
      case LIBSSH2_HOSTKEY_TYPE_ECDSA_384:
        key_bit = LIBSSH2_KNOWNHOST_KEY_ECDSA_384;
        break;
      case LIBSSH2_HOSTKEY_TYPE_ECDSA_521:
        key_bit = LIBSSH2_KNOWNHOST_KEY_ECDSA_521;
        break;
      default:
        key_bit = LIBSSH2_KNOWNHOST_KEY_UNKNOWN;
        break;
    }
    const std::string name = t.port == 22 ? t.host : "[" + t.host + "]:" + std::to_string(t.port);
    libssh2_knownhost_addc(known, name.c_str(), nullptr, key, key_len, nullptr, 0,
                           type_mask | key_bit, nullptr);
    if (libssh2_knownhost_writefile(known, c.known_hosts.c_str(), LIBSSH2_KNOWNHOST_FILE_OPENSSH) !=
        0) {
      return MakeError(ErrorCode::kUnavailable, "cannot write " + c.known_hosts);
    }
  }
  const std::string pub = c.public_key.empty() ? c.private_key + ".pub" : c.public_key;
  if (libssh2_userauth_publickey_fromfile(st->session, t.user.c_str(), pub.c_str(),
                                          c.private_key.c_str(), nullptr) != 0) {
    return MakeError(ErrorCode::kUnauthorized,
                     t.str() + " refused the key " + c.private_key + ": " + LastError(st->session));
  }
  return std::unique_ptr<SshSession>(new SshSession(std::move(st)));
}

Result<ExecResult> SshSession::Exec(const std::string& command) {
  LIBSSH2_CHANNEL* ch = libssh2_channel_open_session(s_->session);
  if (ch == nullptr) {
    return MakeError(ErrorCode::kUnavailable, "ssh channel: " + LastError(s_->session));
  }
  std::unique_ptr<LIBSSH2_CHANNEL, decltype(&libssh2_channel_free)> guard(ch, libssh2_channel_free);
  libssh2_channel_handle_extended_data2(ch, LIBSSH2_CHANNEL_EXTENDED_DATA_MERGE);
  if (libssh2_channel_exec(ch, command.c_str()) != 0) {
    return MakeError(ErrorCode::kUnavailable, "ssh exec: " + LastError(s_->session));
  }
  ExecResult out;
  char buf[8192];
  for (;;) {
    ssize_t n = libssh2_channel_read(ch, buf, sizeof buf);
    if (n < 0) return MakeError(ErrorCode::kUnavailable, "ssh read: " + LastError(s_->session));
    if (n == 0) break;
    if (out.output.size() < kMaxOutput) {
      out.output.append(buf,
                        std::min<size_t>(static_cast<size_t>(n), kMaxOutput - out.output.size()));
    }
  }
  libssh2_channel_close(ch);
  libssh2_channel_wait_closed(ch);
  out.exit_status = libssh2_channel_get_exit_status(ch);
  return out;
}

Result<void> SshSession::WriteFrom(const std::string& remote_path, long mode,
                                   const std::function<Result<size_t>(char*, size_t)>& read) {
  LIBSSH2_SFTP* sftp = libssh2_sftp_init(s_->session);
  if (sftp == nullptr) return MakeError(ErrorCode::kUnavailable, "sftp: " + LastError(s_->session));
  std::unique_ptr<LIBSSH2_SFTP, decltype(&libssh2_sftp_shutdown)> sftp_guard(sftp,
                                                                             libssh2_sftp_shutdown);
  LIBSSH2_SFTP_HANDLE* h = libssh2_sftp_open(
      sftp, remote_path.c_str(), LIBSSH2_FXF_WRITE | LIBSSH2_FXF_CREAT | LIBSSH2_FXF_TRUNC, mode);
  if (h == nullptr) {
    return MakeError(ErrorCode::kUnavailable,
                     "sftp cannot write " + remote_path + ": " + LastError(s_->session));
  }
  std::unique_ptr<LIBSSH2_SFTP_HANDLE, decltype(&libssh2_sftp_close_handle)> h_guard(
      h, libssh2_sftp_close_handle);
  char buf[32 * 1024];
  for (;;) {
    auto n = read(buf, sizeof buf);
    if (!n) return n.error();
    if (*n == 0) break;
    size_t off = 0;
    while (off < *n) {
      ssize_t w = libssh2_sftp_write(h, buf + off, *n - off);
      if (w < 0) {
        return MakeError(ErrorCode::kUnavailable,
                         "sftp write " + remote_path + ": " + LastError(s_->session));
      }
      off += static_cast<size_t>(w);
    }
  }
  // The mode asked for, whatever the remote umask made of it.
  LIBSSH2_SFTP_ATTRIBUTES attrs{};
  attrs.flags = LIBSSH2_SFTP_ATTR_PERMISSIONS;
  attrs.permissions = static_cast<unsigned long>(mode);
  libssh2_sftp_fsetstat(h, &attrs);
  return {};
}

Result<void> SshSession::Write(const std::string& remote_path, const std::string& content,
                               long mode) {
  size_t pos = 0;
  return WriteFrom(remote_path, mode, [&](char* buf, size_t cap) -> Result<size_t> {
    const size_t n = std::min(cap, content.size() - pos);
    std::memcpy(buf, content.data() + pos, n);
    pos += n;
    return n;
  });
}

Result<void> SshSession::Upload(const std::string& local_path, const std::string& remote_path,
                                long mode) {
  std::ifstream in(local_path, std::ios::binary);
  if (!in) return MakeError(ErrorCode::kNotFound, "cannot read " + local_path);
  return WriteFrom(remote_path, mode, [&](char* buf, size_t cap) -> Result<size_t> {
    in.read(buf, static_cast<std::streamsize>(cap));
    if (in.bad()) return MakeError(ErrorCode::kUnavailable, "cannot read " + local_path);
    return static_cast<size_t>(in.gcount());
  });
}

std::string ShellQuote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  return out + "'";
}

}  // namespace autovibe
