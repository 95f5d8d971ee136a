// The sans-I/O session core: bytes in, reply bytes (and "close") out.
// The Asio shell, the fuzzers and the tests all drive this same object.
//
// It owns the connection's buffers, sniffs the protocol from the first bytes
// and hands them to that protocol's session; each protocol session is a
// small, separately tested piece that reads an service::InputBuffer and writes an
// service::OutputBuffer.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <variant>

#include "http/http_session.hpp"
#include "proto/binary_session.hpp"
#include "service/buffers.hpp"
#include "service/session_services.hpp"
#include "session/sniff.hpp"
#include "proto/text_session.hpp"

namespace katsubushi::session {

class SessionCore {
 public:
  // `protocol`: undecided to sniff it from the first bytes (the main port),
  // or the protocol of every connection of a dedicated listener.
  SessionCore(service::SessionServices services, service::SessionLimits limits,
              Protocol protocol = Protocol::undecided);
  // The protocol session holds references into this object.
  SessionCore(const SessionCore&) = delete;
  SessionCore& operator=(const SessionCore&) = delete;

  // Zero-copy input: write up to `n` bytes into prepare(n), then commit().
  std::span<char> prepare(std::size_t n) { return in_.prepare(n); }
  void commit(std::size_t n);
  // Copying convenience for tests and fuzzers.
  void receive(std::string_view bytes);
  // The shell's path: answers what it can of `bytes` (in a buffer the shell
  // reuses for every connection of its thread) at once, as process() does,
  // without copying them; only what is left (an unfinished line, requests
  // held back) is copied into this connection's own buffer.
  void receive_and_process(std::string_view bytes);

  // Answers the complete requests that are buffered, a bounded amount of
  // work at a time: it stops early when the output is over its limit, the
  // session is closing, a step's worth of ids is issued (yielded()), or the
  // request in hand waits for the generator (not_before_unix_ms()). Never
  // waits itself.
  void process();

  // Non-zero: the request in hand waits for the generator until this time
  // (unix ms on the generator's clock). The shell waits on a timer, then
  // calls process(); calling it earlier only asks again.
  std::int64_t not_before_unix_ms() const noexcept;
  // process() stopped with more it can do at once: the shell lets other
  // connections run, then calls process() again.
  bool yielded() const noexcept;

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
  // Whether the shell should read more now: false under backpressure, and
  // while a request is being answered or waits for ids.
  bool wants_input() const noexcept;
  // Complete requests handled so far: the idle timer restarts when it grows.
  std::uint64_t completed_requests() const noexcept;
  // Bytes held for this connection, input and output together.
  std::size_t buffered_bytes() const noexcept;
  Protocol protocol() const noexcept { return protocol_; }

 private:
  void start_protocol(Protocol protocol);

  service::SessionServices services_;
  service::SessionLimits limits_;
  Protocol protocol_ = Protocol::undecided;
  service::InputBuffer in_;
  service::OutputBuffer out_;
  std::variant<std::monostate, proto::TextSession, proto::BinarySession, http::HttpSession> session_;
};

}  // namespace katsubushi::session
