#include "server/listeners.hpp"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <boost/asio/ip/v6_only.hpp>
#include <spdlog/spdlog.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string_view>
#include <utility>

namespace katsubushi::server {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using unix_socket = asio::local::stream_protocol;

namespace {

// A start-up failure the operator can act on: what we tried, and why it failed
// in the system's words (never a library's source location).
[[noreturn]] void fail(const std::string& what, const boost::system::error_code& ec) {
  throw std::runtime_error(what + ": " + ec.message());
}

// Whether something answers on the unix socket at `path`. Never blocks: a
// listener whose backlog is full (its owner stopped or overloaded) is alive
// too, and a blocking connect would wait on it forever.
enum class SocketProbe { alive, stale, gone };
SocketProbe probe_unix_socket(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) fail("-sock " + path + ": probing the existing socket", {errno, boost::system::system_category()});
  const int rc = ::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr);
  const int err = rc == 0 ? 0 : errno;
  ::close(fd);
  if (rc == 0 || err == EAGAIN || err == EINPROGRESS) return SocketProbe::alive;
  if (err == ECONNREFUSED) return SocketProbe::stale;
  if (err == ENOENT) return SocketProbe::gone;
  fail("-sock " + path + ": probing the existing socket", {err, boost::system::system_category()});
}

void listen_unix(unix_socket::acceptor& acceptor, const std::string& path) {
  if (path.size() >= sizeof(sockaddr_un::sun_path)) {
    throw std::runtime_error("-sock " + path + ": path too long for a unix socket (at most " +
                             std::to_string(sizeof(sockaddr_un::sun_path) - 1) + " bytes)");
  }
  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) {
      throw std::runtime_error("-sock " + path + ": exists and is not a socket");
    }
    // A socket someone still answers on is theirs; a dead one is stale.
    switch (probe_unix_socket(path)) {
      case SocketProbe::alive:
        throw std::runtime_error("-sock " + path + ": another process is listening there");
      case SocketProbe::stale:
        ::unlink(path.c_str());
        spdlog::info("replaced stale socket file {}", path);
        break;
      case SocketProbe::gone:
        break;
    }
  }
  boost::system::error_code ec;
  acceptor.open(unix_socket(), ec);
  if (ec) fail("-sock " + path, ec);
  acceptor.bind(unix_socket::endpoint(path), ec);
  if (ec) fail("-sock " + path, ec);
  acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) fail("-sock " + path, ec);
  spdlog::info("listening on unix socket {}", path);
}

// One dual-stack socket serves IPv4 and IPv6. Only a host without IPv6 falls
// back to IPv4 alone, and says so; a port taken on either family is an error,
// never a silent half.
void listen_tcp(tcp::acceptor& acceptor, std::string_view flag, std::uint16_t port) {
  const std::string where = std::string(flag) + " " + std::to_string(port);
  boost::system::error_code ec;
  bool dual_stack = false;
  acceptor.open(tcp::v6(), ec);
  if (!ec) {
    acceptor.set_option(asio::ip::v6_only(false), ec);
    if (ec) fail(where + ": cannot serve IPv4 and IPv6 on one socket", ec);
    acceptor.set_option(asio::socket_base::reuse_address(true), ec);
    if (ec) fail(where, ec);
    acceptor.bind(tcp::endpoint(tcp::v6(), port), ec);
    if (!ec) {
      dual_stack = true;
    } else if (ec != boost::system::errc::address_not_available) {
      fail(where + " (IPv4 and IPv6)", ec);
    } else {
      boost::system::error_code ignored;
      acceptor.close(ignored);
    }
  } else if (ec != boost::system::errc::address_family_not_supported) {
    fail(where, ec);
  }
  if (!dual_stack) {
    spdlog::warn("IPv6 is not available on this host ({}): {} serves IPv4 only", ec.message(),
                 flag);
    acceptor.open(tcp::v4(), ec);
    if (ec) fail(where, ec);
    acceptor.set_option(asio::socket_base::reuse_address(true), ec);
    if (ec) fail(where, ec);
    acceptor.bind(tcp::endpoint(tcp::v4(), port), ec);
    if (ec) fail(where + " (IPv4)", ec);
  }
  acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) fail(where, ec);
  const auto bound = acceptor.local_endpoint(ec);
  const char* what = flag == "-port" ? "memcached" : flag == "-http-port" ? "HTTP" : "gRPC";
  spdlog::info("{} listening on port {} ({})", what,
               ec ? port : bound.port(), dual_stack ? "IPv4 and IPv6" : "IPv4 only");
}

// Socket activation: a listening socket systemd passed is used as it is,
// instead of binding the flag's port. systemd keeps its own copy, so
// connections made while the daemon restarts wait in its backlog, and a unix
// socket's file is systemd's to remove.
std::string activated(int fd, process::systemd::SocketRole role) {
  return "socket activation: fd " + std::to_string(fd) + " (" +
         std::string(process::systemd::to_string(role)) + ")";
}

int socket_family(int fd) {
  sockaddr_storage addr{};
  socklen_t len = sizeof addr;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) return AF_UNSPEC;
  return addr.ss_family;
}

// `overridden`: the flag and value the socket is used instead of, for the log.
void adopt_tcp(tcp::acceptor& acceptor, int fd, process::systemd::SocketRole role,
               const std::string& overridden) {
  const int family = socket_family(fd);
  if (family != AF_INET && family != AF_INET6) {
    throw std::runtime_error(activated(fd, role) + ": not a TCP socket");
  }
  boost::system::error_code ec;
  acceptor.assign(family == AF_INET6 ? tcp::v6() : tcp::v4(), fd, ec);
  if (ec) fail(activated(fd, role), ec);
  const auto bound = acceptor.local_endpoint(ec);
  spdlog::info("{} listening on {} (fd {} from systemd, instead of {})", process::systemd::to_string(role),
               ec ? std::string("?") : bound.address().to_string() + " port " +
                                           std::to_string(bound.port()),
               fd, overridden);
}

void adopt_unix(unix_socket::acceptor& acceptor, int fd, const std::string& overridden) {
  boost::system::error_code ec;
  acceptor.assign(unix_socket(), fd, ec);
  if (ec) fail(activated(fd, process::systemd::SocketRole::memcached), ec);
  const auto bound = acceptor.local_endpoint(ec);
  spdlog::info("memcached listening on unix socket {} (fd {} from systemd, instead of {})",
               ec ? std::string("?") : bound.path(), fd, overridden);
}

}  // namespace

Listeners::Listeners(asio::io_context& io)
    : tcp_acceptor(io), unix_acceptor(io), http_acceptor(io), grpc_acceptor(io) {}

void Listeners::open(const config::Config& config, const process::systemd::ActivatedSockets& a) {
  // Each socket systemd passed replaces its flag's; the others bind as usual.
  if (a.memcached) {
    const std::string flag = config.sock.empty() ? "-port " + std::to_string(config.port)
                                                 : "-sock " + config.sock;
    if (socket_family(*a.memcached) == AF_UNIX) {
      adopt_unix(unix_acceptor, *a.memcached, flag);  // unix_path_ stays empty: not ours to remove
    } else {
      adopt_tcp(tcp_acceptor, *a.memcached, process::systemd::SocketRole::memcached, flag);
    }
  } else if (!config.sock.empty()) {
    listen_unix(unix_acceptor, config.sock);
    unix_path_ = config.sock;
  } else {
    listen_tcp(tcp_acceptor, "-port", config.port);
  }
  if (a.http) {
    adopt_tcp(http_acceptor, *a.http, process::systemd::SocketRole::http,
              "-http-port " + std::to_string(config.http_port));
  } else if (config.http_port != 0) {
    listen_tcp(http_acceptor, "-http-port", static_cast<std::uint16_t>(config.http_port));
  }
  if (a.grpc) {
    adopt_tcp(grpc_acceptor, *a.grpc, process::systemd::SocketRole::grpc,
              "-grpc-port " + std::to_string(config.grpc_port));
  } else if (config.grpc_port != 0) {
    listen_tcp(grpc_acceptor, "-grpc-port", static_cast<std::uint16_t>(config.grpc_port));
  }
}

void Listeners::close() {
  boost::system::error_code ignored;
  tcp_acceptor.close(ignored);
  unix_acceptor.close(ignored);
  http_acceptor.close(ignored);
  grpc_acceptor.close(ignored);
}

std::string Listeners::summary() const {
  boost::system::error_code ec;
  std::string s = "memcached on ";
  if (unix_acceptor.is_open()) {
    const auto ep = unix_acceptor.local_endpoint(ec);
    s += "unix socket " + (ec ? std::string("?") : ep.path());
  } else {
    const auto ep = tcp_acceptor.local_endpoint(ec);
    s += "port " + (ec ? std::string("?") : std::to_string(ep.port()));
  }
  for (const auto& [name, acceptor] :
       {std::pair{"HTTP", &http_acceptor}, std::pair{"gRPC", &grpc_acceptor}}) {
    if (!acceptor->is_open()) continue;
    const auto ep = acceptor->local_endpoint(ec);
    s += std::string(", ") + name + " on port " + (ec ? std::string("?") : std::to_string(ep.port()));
  }
  return s;
}

void Listeners::remove_socket_file() const {
  if (!unix_path_.empty()) ::unlink(unix_path_.c_str());
}

}  // namespace katsubushi::server
