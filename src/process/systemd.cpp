#include "process/systemd.hpp"

#include <sys/socket.h>
#include <systemd/sd-daemon.h>

#include <spdlog/spdlog.h>

#include <cstdint>
#include <cstdlib>
#include <memory>
#include <stdexcept>
#include <system_error>

#include "process/logging.hpp"

namespace katsubushi::process::systemd {

namespace {

// The names array sd_listen_fds_with_names allocates: a NULL-terminated
// list of malloc'd strings.
struct FreeNames {
  void operator()(char** names) const {
    for (char** n = names; *n != nullptr; ++n) std::free(*n);  // NOLINT(cppcoreguidelines-no-malloc)
    std::free(names);  // NOLINT(cppcoreguidelines-no-malloc)
  }
};

std::string error_text(int negative_errno) {
  return std::system_category().message(-negative_errno);
}

}  // namespace

std::optional<SocketRole> role_for_name(std::string_view name) {
  if (name == "memcached" || name == "unknown" || name.empty()) return SocketRole::memcached;
  if (name == "http") return SocketRole::http;
  if (name == "grpc") return SocketRole::grpc;
  return std::nullopt;
}

std::string_view to_string(SocketRole role) {
  switch (role) {
    case SocketRole::memcached: return "memcached";
    case SocketRole::http: return "http";
    case SocketRole::grpc: return "grpc";
  }
  return "?";
}

ActivatedSockets take_activated_sockets() {
  char** raw_names = nullptr;
  const int n = sd_listen_fds_with_names(1, &raw_names);
  const std::unique_ptr<char*, FreeNames> names(raw_names);
  if (n < 0) {
    throw std::runtime_error("socket activation: cannot read LISTEN_FDS and LISTEN_FDNAMES: " +
                             error_text(n));
  }
  ActivatedSockets sockets;
  for (int i = 0; i < n; ++i) {
    const int fd = SD_LISTEN_FDS_START + i;
    const char* raw_name = names ? names.get()[i] : nullptr;
    const std::string name = raw_name != nullptr ? raw_name : "";
    const std::string what = "socket activation: fd " + std::to_string(fd) + " named \"" + name + "\"";
    const auto role = role_for_name(name);
    if (!role) {
      throw std::runtime_error(what + ": unknown name (FileDescriptorName= must be memcached, "
                               "http or grpc)");
    }
    const int listening = sd_is_socket(fd, AF_UNSPEC, SOCK_STREAM, 1);
    if (listening < 0) throw std::runtime_error(what + ": " + error_text(listening));
    if (listening == 0) throw std::runtime_error(what + ": not a listening stream socket");
    std::optional<int>& slot = *role == SocketRole::memcached ? sockets.memcached
                               : *role == SocketRole::http    ? sockets.http
                                                              : sockets.grpc;
    if (slot) {
      throw std::runtime_error(what + ": a second " + std::string(to_string(*role)) +
                               " socket (the first is fd " + std::to_string(*slot) + ")");
    }
    slot = fd;
  }
  return sockets;
}

void notify(const std::string& state) {
  const int r = sd_notify(0, state.c_str());
  if (r < 0) {
    static LogRateLimit failures(std::chrono::seconds(60));
    std::uint64_t suppressed = 0;
    if (failures.allow(suppressed)) {
      spdlog::warn("telling systemd \"{}\" failed: {}; {} more failures not logged",
                   state.substr(0, state.find('\n')), error_text(r), suppressed);
    }
  }
}

std::optional<std::chrono::microseconds> watchdog_interval() {
  std::uint64_t usec = 0;
  if (sd_watchdog_enabled(0, &usec) <= 0 || usec == 0) return std::nullopt;
  return std::chrono::microseconds(static_cast<std::chrono::microseconds::rep>(usec));
}

}  // namespace katsubushi::process::systemd
