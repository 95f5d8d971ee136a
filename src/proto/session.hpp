// The sans-I/O session core: bytes in, reply bytes (and "close") out.
// The Asio shell, the fuzzers and the tests all drive this same object.
//
// It owns the connection's buffers, sniffs the protocol from the first bytes
// and hands them to that protocol's session; each protocol session is a
// small, separately tested piece that reads an InputBuffer and writes an
// OutputBuffer.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <variant>

#include "http/http_session.hpp"
#include "proto/binary_session.hpp"
#include "proto/buffers.hpp"
#include "proto/session_services.hpp"
#include "proto/sniff.hpp"
#include "proto/text_session.hpp"

namespace katsubushi::proto {

class SessionCore {
 public:
  // `protocol`: undecided to sniff it from the first bytes (the main port),
  // or the protocol of every connection of a dedicated listener.
  SessionCore(SessionServices services, SessionLimits limits,
              Protocol protocol = Protocol::undecided);
  // The protocol session holds references into this object.
  SessionCore(const SessionCore&) = delete;
  SessionCore& operator=(const SessionCore&) = delete;

  // Zero-copy input: write up to `n` bytes into prepare(n), then commit().
  std::span<char> prepare(std::size_t n) { return in_.prepare(n); }
  void commit(std::size_t n);
  // Copying convenience for tests and fuzzers.
  void receive(std::string_view bytes);

  // Answers every complete request that is buffered, stopping early when the
  // output is over its limit or the session is closing.
  void process();

  // The peer has half-closed: nothing more will be received. Call once, then
  // process() and flush as usual; the connection can close once output() is
  // empty. For memcached text (and a connection whose first line is cut
  // short, which can only be text), the next process() also answers a last
  // line that has no "\n", then closing() turns true. Other protocols answer
  // only their complete requests, as before.
  void end_of_input();

  std::string_view output() const noexcept { return out_.unsent(); }
  void consume_output(std::size_t n) noexcept { out_.consume(n); }

  // The shell closes the connection once output() is empty and this is true.
  bool closing() const noexcept;
  // Whether the shell should read more now (false under backpressure).
  bool wants_input() const noexcept;
  // Complete requests handled so far: the idle timer restarts when it grows.
  std::uint64_t completed_requests() const noexcept;
  // Bytes held for this connection, input and output together.
  std::size_t buffered_bytes() const noexcept;
  Protocol protocol() const noexcept { return protocol_; }

 private:
  void start_protocol(Protocol protocol);

  SessionServices services_;
  SessionLimits limits_;
  Protocol protocol_ = Protocol::undecided;
  InputBuffer in_;
  OutputBuffer out_;
  std::variant<std::monostate, TextSession, BinarySession, http::HttpSession> session_;
};

}  // namespace katsubushi::proto
