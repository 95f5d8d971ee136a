#include "session/session.hpp"

#include <type_traits>

namespace katsubushi::session {

SessionCore::SessionCore(service::SessionServices services, service::SessionLimits limits, Protocol protocol)
    : services_(services), limits_(limits) {
  if (protocol != Protocol::undecided) start_protocol(protocol);
}

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

void SessionCore::receive_and_process(std::string_view bytes) {
  if (closing()) return;
  in_.lend(bytes);
  process();
  in_.keep();
}

namespace {

// f(session) for the protocol's session, `none` before one is chosen. Not
// std::visit, which may throw bad_variant_access: these accessors are noexcept.
template <typename Variant, typename R, typename F>
R on_session(const Variant& v, R none, F f) noexcept {
  if (const auto* t = std::get_if<proto::TextSession>(&v)) return f(*t);
  if (const auto* b = std::get_if<proto::BinarySession>(&v)) return f(*b);
  if (const auto* h = std::get_if<http::HttpSession>(&v)) return f(*h);
  return none;
}

}  // namespace

bool SessionCore::closing() const noexcept {
  return on_session(session_, false, [](const auto& s) { return s.closing(); });
}

std::int64_t SessionCore::not_before_unix_ms() const noexcept {
  return on_session(session_, std::int64_t{0},
                    [](const auto& s) -> std::int64_t { return s.not_before_unix_ms(); });
}

bool SessionCore::yielded() const noexcept {
  if (const auto* t = std::get_if<proto::TextSession>(&session_)) return t->yielded();
  return false;
}

bool SessionCore::wants_input() const noexcept {
  if (closing() || out_.unsent_size() >= limits_.max_output_bytes) return false;
  if (not_before_unix_ms() != 0) return false;
  if (const auto* t = std::get_if<proto::TextSession>(&session_)) return !t->in_request() && !t->yielded();
  return true;
}

std::uint64_t SessionCore::completed_requests() const noexcept {
  return on_session(session_, std::uint64_t{0},
                    [](const auto& s) -> std::uint64_t { return s.completed_requests(); });
}

std::size_t SessionCore::buffered_bytes() const noexcept {
  return in_.capacity_bytes() + out_.capacity_bytes();
}

void SessionCore::start_protocol(Protocol protocol) {
  protocol_ = protocol;
  switch (protocol) {
    case Protocol::undecided:
      break;
    case Protocol::text:
      session_.emplace<proto::TextSession>(services_, limits_);
      break;
    case Protocol::binary:
      session_.emplace<proto::BinarySession>(services_, limits_);
      break;
    case Protocol::http:
      session_.emplace<http::HttpSession>(services_, limits_);
      break;
  }
}

void SessionCore::end_of_input() {
  if (protocol_ == Protocol::undecided && !in_.pending().empty()) {
    // A first line still without its "\n" can no longer become an HTTP
    // request line; go-katsubushi would answer it as text.
    const Protocol sniffed = sniff_protocol(in_.pending(), limits_.max_line_bytes);
    start_protocol(sniffed == Protocol::undecided ? Protocol::text : sniffed);
  }
  if (auto* text = std::get_if<proto::TextSession>(&session_)) text->end_of_input();
}

void SessionCore::process() {
  if (closing()) return;
  out_.drop_sent();
  if (protocol_ == Protocol::undecided) {
    start_protocol(sniff_protocol(in_.pending(), limits_.max_line_bytes));
  }
  std::visit(
      [this](auto& s) {
        if constexpr (!std::is_same_v<std::decay_t<decltype(s)>, std::monostate>) {
          s.process(in_, out_);
        }
      },
      session_);
  // Nothing pending: no input buffer is held either.
  in_.keep();
}

}  // namespace katsubushi::session
