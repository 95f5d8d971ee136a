#include "proto/session.hpp"

namespace katsubushi::proto {

namespace {

constexpr std::string_view kHttpNotYet =
    "HTTP/1.1 501 Not Implemented\r\n"
    "Content-Type: text/plain\r\n"
    "Content-Length: 53\r\n"
    "Connection: close\r\n"
    "\r\n"
    "this port speaks the memcached protocol; try get id\r\n";

}  // namespace

SessionCore::SessionCore(SessionServices services, SessionLimits limits)
    : services_(services), limits_(limits) {}

void SessionCore::commit(std::size_t n) {
  // Input after the session decided to close is never read: dropping it keeps
  // a peer that goes on sending from growing the buffer.
  if (closing()) return;
  in_.commit(n);
}

void SessionCore::receive(std::string_view bytes) {
  if (closing()) return;
  in_.append(bytes);
}

bool SessionCore::closing() const noexcept {
  return closing_ || (text_ && text_->closing());
}

bool SessionCore::wants_input() const noexcept {
  return !closing() && out_.unsent_size() < limits_.max_output_bytes;
}

std::uint64_t SessionCore::completed_requests() const noexcept {
  return text_ ? text_->completed_requests() : 0;
}

std::size_t SessionCore::buffered_bytes() const noexcept {
  return in_.capacity_bytes() + out_.capacity_bytes();
}

void SessionCore::close_after(std::string_view final_reply) {
  out_.append(final_reply);
  closing_ = true;
  in_.clear();
}

void SessionCore::start_protocol() {
  protocol_ = sniff_protocol(in_.pending(), limits_.max_line_bytes);
  switch (protocol_) {
    case Protocol::undecided:
      break;
    case Protocol::text:
      text_.emplace(services_, limits_);
      break;
    case Protocol::binary:
      // memcached binary protocol: not served yet. Close rather than answer a
      // binary client in text it cannot parse.
      close_after({});
      break;
    case Protocol::http:
      close_after(kHttpNotYet);
      break;
  }
}

void SessionCore::process() {
  if (closing()) return;
  out_.drop_sent();
  if (protocol_ == Protocol::undecided) start_protocol();
  if (text_) text_->process(in_, out_);
}

}  // namespace katsubushi::proto
