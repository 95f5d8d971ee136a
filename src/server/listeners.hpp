// The listening sockets: -port or -sock (memcached), -http-port, -grpc-port,
// each bound here or taken from systemd (socket activation).
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>

#include <string>

#include "config/config.hpp"
#include "process/systemd.hpp"

namespace katsubushi::server {

class Listeners {
 public:
  explicit Listeners(boost::asio::io_context& io);

  // Binds each listener its flag asks for, or takes the socket systemd passed
  // for it instead. Throws std::runtime_error naming the address or the fd
  // when it cannot.
  void open(const config::Config& config, const process::systemd::ActivatedSockets& activated);

  // Stops accepting: the accept loops end.
  void close();

  // Where the daemon listens, for STATUS=: "memcached on port 11212, HTTP on port 8080".
  std::string summary() const;

  // At exit: the -sock file the daemon made (not one systemd passed).
  void remove_socket_file() const;

  boost::asio::ip::tcp::acceptor tcp_acceptor;                // -port
  boost::asio::local::stream_protocol::acceptor unix_acceptor;  // -sock, instead of -port
  boost::asio::ip::tcp::acceptor http_acceptor;               // -http-port
  boost::asio::ip::tcp::acceptor grpc_acceptor;               // -grpc-port

 private:
  std::string unix_path_;  // removed at exit
};

}  // namespace katsubushi::server
