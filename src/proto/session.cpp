#include "proto/session.hpp"

#include <algorithm>
#include <charconv>
#include <cctype>
#include <cstring>

namespace katsubushi::proto {

namespace {

constexpr std::string_view kError = "ERROR\r\n";
constexpr std::string_view kBadFormat = "CLIENT_ERROR bad command line format\r\n";
constexpr std::string_view kLineTooLong = "CLIENT_ERROR line too long\r\n";
constexpr std::string_view kBadDataChunk = "CLIENT_ERROR bad data chunk\r\n";
constexpr std::string_view kBlockTooLarge = "CLIENT_ERROR data block too large\r\n";
constexpr std::string_view kHttpNotYet =
    "HTTP/1.1 501 Not Implemented\r\n"
    "Content-Type: text/plain\r\n"
    "Content-Length: 53\r\n"
    "Connection: close\r\n"
    "\r\n"
    "this port speaks the memcached protocol; try get id\r\n";

// Buffers bigger than this are released once empty, so an idle connection
// that once saw a burst does not keep the burst's memory.
constexpr std::size_t kKeepBufferBytes = 64 * 1024;

// `METHOD SP target SP HTTP/1.x`: what curl or a browser sends first.
bool looks_like_http_request_line(std::string_view line) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  std::size_t i = 0;
  while (i < line.size() && line[i] >= 'A' && line[i] <= 'Z') ++i;
  if (i == 0 || i > 16 || i >= line.size() || line[i] != ' ') return false;
  const std::size_t target = i + 1;
  const std::size_t sp = line.find(' ', target);
  if (sp == std::string_view::npos || sp == target) return false;
  const std::string_view version = line.substr(sp + 1);
  return version.size() == 8 && version.substr(0, 7) == "HTTP/1." && version[7] >= '0' &&
         version[7] <= '9';
}

// A line still waiting for its '\n' is over the limit only once it is longer
// than a line at the limit plus the '\r' of its "\r\n": otherwise the answer
// would depend on where the reads happen to split the input.
bool unterminated_line_too_long(std::string_view in, std::size_t max_line_bytes) {
  if (!in.empty() && in.back() == '\r') in.remove_suffix(1);
  return in.size() > max_line_bytes;
}

// Stats group names are case-insensitive, as command names are.
bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() &&
         std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

void append_uint(std::string& out, std::uint64_t v) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  (void)ec;
  out.append(buf, static_cast<std::size_t>(end - buf));
}

}  // namespace

SessionCore::SessionCore(SessionServices services, SessionLimits limits)
    : svc_(services), limits_(limits) {}

std::span<char> SessionCore::prepare(std::size_t n) {
  compact_input();
  if (in_.size() < in_end_ + n) in_.resize(in_end_ + n);
  return {in_.data() + in_end_, n};
}

void SessionCore::commit(std::size_t n) {
  // Input after the session decided to close is never read: dropping it keeps
  // a peer that goes on sending from growing the buffer.
  if (closing_) return;
  in_end_ = std::min(in_end_ + n, in_.size());
}

void SessionCore::receive(std::string_view bytes) {
  auto space = prepare(bytes.size());
  if (!bytes.empty()) std::memcpy(space.data(), bytes.data(), bytes.size());
  commit(bytes.size());
}

void SessionCore::compact_input() {
  if (in_begin_ == 0) return;
  if (in_begin_ == in_end_) {
    in_begin_ = in_end_ = 0;
    if (in_.size() > kKeepBufferBytes) std::string().swap(in_);
    return;
  }
  std::memmove(in_.data(), in_.data() + in_begin_, in_end_ - in_begin_);
  in_end_ -= in_begin_;
  in_begin_ = 0;
}

void SessionCore::consume_output(std::size_t n) noexcept {
  out_begin_ = std::min(out_begin_ + n, out_.size());
  if (out_begin_ == out_.size()) {
    out_begin_ = 0;
    out_.clear();
    if (out_.capacity() > kKeepBufferBytes) std::string().swap(out_);
  }
}

bool SessionCore::wants_input() const noexcept {
  return !closing_ && out_.size() - out_begin_ < limits_.max_output_bytes;
}

std::size_t SessionCore::buffered_bytes() const noexcept { return in_.size() + out_.size(); }

void SessionCore::close_after(std::string_view final_reply) {
  reply(final_reply);
  closing_ = true;
  in_begin_ = in_end_ = 0;
  scanned_ = 0;
  swallow_left_ = 0;
}

void SessionCore::process() {
  if (closing_) return;
  // Drop output the shell has already sent before adding more: after partial
  // consume_output() calls the sent prefix would otherwise grow without bound.
  if (out_begin_ > 0) {
    out_.erase(0, out_begin_);
    out_begin_ = 0;
  }
  if (protocol_ == Protocol::undecided) decide_protocol();
  switch (protocol_) {
    case Protocol::text:
      process_text();
      break;
    case Protocol::undecided:
    case Protocol::binary:
    case Protocol::http:
      break;
  }
}

void SessionCore::decide_protocol() {
  const std::string_view in = pending_input();
  if (in.empty()) return;
  if (static_cast<unsigned char>(in.front()) == 0x80) {
    // memcached binary protocol: its own branch arrives later. Close rather
    // than answer a binary client in text it cannot parse.
    protocol_ = Protocol::binary;
    close_after({});
    return;
  }
  const std::size_t nl = in.find('\n');
  if (nl == std::string_view::npos) {
    // Not a whole line yet. Text is the only other answer a long line can
    // get, so stop waiting once it is over the limit.
    if (unterminated_line_too_long(in, limits_.max_line_bytes)) protocol_ = Protocol::text;
    return;
  }
  if (looks_like_http_request_line(in.substr(0, nl))) {
    protocol_ = Protocol::http;
    close_after(kHttpNotYet);
    return;
  }
  protocol_ = Protocol::text;
}

void SessionCore::process_text() {
  while (!closing_ && out_.size() - out_begin_ < limits_.max_output_bytes) {
    if (swallow_left_ > 0) {
      swallow_data();
      if (swallow_left_ > 0) return;
      continue;
    }
    const std::string_view in = pending_input();
    const void* hit = scanned_ < in.size()
                          ? std::memchr(in.data() + scanned_, '\n', in.size() - scanned_)
                          : nullptr;
    if (hit == nullptr) {
      // Remember how far we looked so a line fed a byte at a time costs
      // linear, not quadratic, time.
      scanned_ = in.size();
      if (unterminated_line_too_long(in, limits_.max_line_bytes)) close_after(kLineTooLong);
      return;
    }
    const std::size_t nl = static_cast<std::size_t>(static_cast<const char*>(hit) - in.data());
    std::string_view line = in.substr(0, nl);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.size() > limits_.max_line_bytes) {
      close_after(kLineTooLong);
      return;
    }
    in_begin_ += nl + 1;
    scanned_ = 0;
    handle_line(line);
  }
}

void SessionCore::handle_line(std::string_view line) {
  parse_text_line(line, cmd_);
  if (cmd_.kind != TextCommandKind::empty) ++completed_;
  switch (cmd_.kind) {
    case TextCommandKind::empty:
    case TextCommandKind::unknown:
      reply(kError);
      break;
    case TextCommandKind::bad_format:
      reply(kBadFormat);
      break;
    case TextCommandKind::get:
      handle_get(false);
      break;
    case TextCommandKind::gets:
      handle_get(true);
      break;
    case TextCommandKind::stats:
      handle_stats(cmd_.stats_group);
      break;
    case TextCommandKind::version:
      reply("VERSION ");
      reply(svc_.version);
      reply("\r\n");
      break;
    case TextCommandKind::verbosity:
      if (!cmd_.noreply) reply("OK\r\n");
      break;
    case TextCommandKind::quit:
      close_after({});
      break;
    case TextCommandKind::storage:
      if (cmd_.data_bytes > limits_.max_data_block_bytes) {
        close_after(kBlockTooLarge);
        break;
      }
      // The request counts as complete once its block has been skipped.
      --completed_;
      swallow_left_ = cmd_.data_bytes + 2;
      swallow_noreply_ = cmd_.noreply;
      swallow_tail_[0] = swallow_tail_[1] = 0;
      break;
  }
}

void SessionCore::swallow_data() {
  const std::string_view in = pending_input();
  const std::size_t n =
      static_cast<std::size_t>(std::min<std::uint64_t>(swallow_left_, in.size()));
  // Keep the block's last two bytes: they must be "\r\n".
  for (std::size_t i = 0; i < n; ++i) {
    const std::uint64_t from_end = swallow_left_ - i;  // 2 for the '\r', 1 for the '\n'
    if (from_end <= 2) swallow_tail_[2 - from_end] = in[i];
  }
  swallow_left_ -= n;
  in_begin_ += n;
  if (swallow_left_ > 0) return;
  ++completed_;
  if (swallow_noreply_) return;
  const bool framed = swallow_tail_[0] == '\r' && swallow_tail_[1] == '\n';
  reply(framed ? kError : kBadDataChunk);
}

void SessionCore::handle_get(bool with_cas) {
  const std::size_t n = cmd_.keys.size();
  svc_.counters.cmd_get.fetch_add(n, std::memory_order_relaxed);
  ids_.resize(n);
  const auto result = svc_.generator.next_batch(ids_);
  if (result.error) {
    svc_.counters.get_misses.fetch_add(n, std::memory_order_relaxed);
    reply("SERVER_ERROR ");
    reply(result.error.message());
    reply("\r\n");
    return;
  }
  svc_.counters.get_hits.fetch_add(n, std::memory_order_relaxed);
  out_.reserve(out_.size() + n * 48);
  for (std::size_t i = 0; i < n; ++i) {
    char digits[24];
    auto [end, ec] = std::to_chars(digits, digits + sizeof digits, ids_[i]);
    (void)ec;
    const auto len = static_cast<std::size_t>(end - digits);
    reply("VALUE ");
    reply(cmd_.keys[i]);
    reply(" 0 ");
    append_uint(out_, len);
    if (with_cas) {
      reply(" ");
      out_.append(digits, len);
    }
    reply("\r\n");
    out_.append(digits, len);
    reply("\r\n");
  }
  reply("END\r\n");
}

void SessionCore::handle_stats(std::string_view group) {
  StatList stats;
  if (group.empty()) {
    if (svc_.stats != nullptr) stats = svc_.stats->general_stats();
  } else if (iequals(group, "settings")) {
    if (svc_.stats != nullptr) stats = svc_.stats->settings_stats();
  } else {
    reply(kError);
    return;
  }
  for (const auto& [name, value] : stats) {
    reply("STAT ");
    reply(name);
    reply(" ");
    reply(value);
    reply("\r\n");
  }
  reply("END\r\n");
}

}  // namespace katsubushi::proto
