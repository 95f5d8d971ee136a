// What the daemon tells systemd and takes from it: readiness, status and
// stopping (sd_notify), the watchdog's interval, and the listening sockets of
// socket activation. Without systemd (no NOTIFY_SOCKET, no LISTEN_FDS, no
// WATCHDOG_USEC) every call here does nothing.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace katsubushi::process::systemd {

// The listening sockets systemd passed, by their FileDescriptorName=.
struct ActivatedSockets {
  std::optional<int> memcached;  // "memcached"; also unnamed ("unknown", systemd's default)
  std::optional<int> http;
  std::optional<int> grpc;
  bool any() const { return memcached || http || grpc; }
};

// Which of ActivatedSockets a socket named `name` is for; nullopt for a name
// the daemon does not know.
enum class SocketRole { memcached, http, grpc };
std::optional<SocketRole> role_for_name(std::string_view name);
std::string_view to_string(SocketRole role);

// Takes the sockets of LISTEN_FDS and LISTEN_FDNAMES when LISTEN_PID is this
// process, and unsets the three. Throws std::runtime_error naming the fd and
// its name when one is not a listening stream socket, has a name the daemon
// does not know, or repeats a name.
ActivatedSockets take_activated_sockets();

// Sends `state` ("READY=1\nSTATUS=...") to the notify socket, if there is one.
void notify(const std::string& state);

// WATCHDOG_USEC when it is meant for this process, else nullopt.
std::optional<std::chrono::microseconds> watchdog_interval();

}  // namespace katsubushi::process::systemd
