// The byte stream a case runs over. The runner talks to a Transport so its
// unit tests can script the other end; the real one is a TCP connection to
// the --target, where every wait is bounded by a timeout.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <string_view>

namespace katsubushi::conform {

using Millis = std::chrono::milliseconds;

enum class RecvStatus { data, closed, timeout, error };

class Transport {
 public:
  Transport() = default;
  virtual ~Transport() = default;
  Transport(const Transport&) = delete;
  Transport& operator=(const Transport&) = delete;
  Transport(Transport&&) = delete;
  Transport& operator=(Transport&&) = delete;

  // Sends all of `bytes` within `timeout`. On failure `error` says why and
  // `peer_closed` whether it was the peer closing (EPIPE, reset): a server
  // may close before reading a request it has already answered.
  virtual bool send(std::string_view bytes, Millis timeout, std::string& error,
                    bool& peer_closed) = 0;
  // Appends what one read brings within `timeout`. `closed` covers an orderly
  // close and a reset alike.
  virtual RecvStatus recv(std::string& out, Millis timeout, std::string& error) = 0;
};

// HOST:PORT, with [ADDRESS]:PORT for IPv6.
struct Target {
  std::string host;
  std::string port;
  std::string describe() const;
};

bool parse_target(std::string_view text, Target& out, std::string& error);

// A TCP connection to `target` (its first address that accepts), or nullptr
// with `error` set.
std::unique_ptr<Transport> connect_tcp(const Target& target, Millis timeout, std::string& error);

}  // namespace katsubushi::conform
