#include "proto/text_session.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>

namespace katsubushi::proto {

namespace {

constexpr std::string_view kError = "ERROR\r\n";
constexpr std::string_view kBadFormat = "CLIENT_ERROR bad command line format\r\n";
constexpr std::string_view kLineTooLong = "CLIENT_ERROR line too long\r\n";
constexpr std::string_view kBadDataChunk = "CLIENT_ERROR bad data chunk\r\n";
constexpr std::string_view kBlockTooLarge = "CLIENT_ERROR data block too large\r\n";

// Stats group names are case-insensitive, as command names are.
bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() &&
         std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

}  // namespace

TextSession::TextSession(const SessionServices& services, const SessionLimits& limits)
    : services_(services),
      limits_(limits),
      ids_(services.generator, services.counters),
      framer_(limits.max_line_bytes) {}

void TextSession::close_after(std::string_view final_reply, InputBuffer& in, OutputBuffer& out) {
  out.append(final_reply);
  closing_ = true;
  in.clear();
  swallow_left_ = 0;
}

void TextSession::process(InputBuffer& in, OutputBuffer& out) {
  while (!closing_ && out.unsent_size() < limits_.max_output_bytes) {
    if (swallow_left_ > 0) {
      swallow_data(in, out);
      if (swallow_left_ > 0) return;
      continue;
    }
    std::string_view line;
    std::size_t used = 0;
    switch (framer_.next(in.pending(), line, used)) {
      case LineFramer::Result::need_more:
        return;
      case LineFramer::Result::too_long:
        close_after(kLineTooLong, in, out);
        return;
      case LineFramer::Result::line:
        // `line` points into `in`; it stays valid until the next prepare().
        in.consume(used);
        handle_line(line, in, out);
        break;
    }
  }
}

void TextSession::handle_line(std::string_view line, InputBuffer& in, OutputBuffer& out) {
  parse_text_line(line, cmd_);
  if (cmd_.kind != TextCommandKind::empty) ++completed_;
  switch (cmd_.kind) {
    case TextCommandKind::empty:
    case TextCommandKind::unknown:
      out.append(kError);
      break;
    case TextCommandKind::bad_format:
      out.append(kBadFormat);
      break;
    case TextCommandKind::get:
      handle_get(false, out);
      break;
    case TextCommandKind::gets:
      handle_get(true, out);
      break;
    case TextCommandKind::stats:
      handle_stats(cmd_.stats_group, out);
      break;
    case TextCommandKind::version:
      out.append("VERSION ");
      out.append(services_.version);
      out.append("\r\n");
      break;
    case TextCommandKind::verbosity:
      if (!cmd_.noreply) out.append("OK\r\n");
      break;
    case TextCommandKind::quit:
      close_after({}, in, out);
      break;
    case TextCommandKind::storage:
      if (cmd_.data_bytes > limits_.max_data_block_bytes) {
        close_after(kBlockTooLarge, in, out);
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

void TextSession::swallow_data(InputBuffer& in, OutputBuffer& out) {
  const std::string_view pending = in.pending();
  const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(swallow_left_, pending.size()));
  // Keep the block's last two bytes: they must be "\r\n".
  for (std::size_t i = 0; i < n; ++i) {
    const std::uint64_t from_end = swallow_left_ - i;  // 2 for the '\r', 1 for the '\n'
    if (from_end <= 2) swallow_tail_[2 - from_end] = pending[i];
  }
  swallow_left_ -= n;
  in.consume(n);
  if (swallow_left_ > 0) return;
  ++completed_;
  if (swallow_noreply_) return;
  const bool framed = swallow_tail_[0] == '\r' && swallow_tail_[1] == '\n';
  out.append(framed ? kError : kBadDataChunk);
}

void TextSession::handle_get(bool with_cas, OutputBuffer& out) {
  const std::size_t n = cmd_.keys.size();
  id_scratch_.resize(n);
  if (const std::error_code ec = ids_.issue(id_scratch_)) {
    out.append("SERVER_ERROR ");
    out.append(ec.message());
    out.append("\r\n");
    return;
  }
  out.reserve_more(n * 48);
  for (std::size_t i = 0; i < n; ++i) {
    char digits[24];
    const auto [end, ec] = std::to_chars(digits, digits + sizeof digits, id_scratch_[i]);
    (void)ec;  // 24 bytes hold any uint64
    const auto len = static_cast<std::size_t>(end - digits);
    out.append("VALUE ");
    out.append(cmd_.keys[i]);
    out.append(" 0 ");
    out.append_uint(len);
    if (with_cas) {
      out.append(" ");
      out.append(digits, len);
    }
    out.append("\r\n");
    out.append(digits, len);
    out.append("\r\n");
  }
  out.append("END\r\n");
}

void TextSession::handle_stats(std::string_view group, OutputBuffer& out) {
  StatList stats;
  if (group.empty()) {
    if (services_.stats != nullptr) stats = services_.stats->general_stats();
  } else if (iequals(group, "settings")) {
    if (services_.stats != nullptr) stats = services_.stats->settings_stats();
  } else {
    out.append(kError);
    return;
  }
  for (const auto& [name, value] : stats) {
    out.append("STAT ");
    out.append(name);
    out.append(" ");
    out.append(value);
    out.append("\r\n");
  }
  out.append("END\r\n");
}

}  // namespace katsubushi::proto
