#include "proto/text_session.hpp"

#include <algorithm>
#include <charconv>

#include "proto/meta_reply.hpp"
#include "proto/text_parser.hpp"

namespace katsubushi::proto {

namespace {

constexpr std::string_view kError = "ERROR\r\n";
constexpr std::string_view kBadFormat = "CLIENT_ERROR bad command line format\r\n";
constexpr std::string_view kLineTooLong = "CLIENT_ERROR line too long\r\n";
constexpr std::string_view kBadDataChunk = "CLIENT_ERROR bad data chunk\r\n";
constexpr std::string_view kBlockTooLarge = "CLIENT_ERROR data block too large\r\n";
constexpr std::string_view kEnd = "END\r\n";

// memcached's MAX_NUMBER_OF_SLAB_CLASSES: `stats cachedump <id> …` takes ids below it.
constexpr std::uint32_t kSlabClasses = 64;

void append_stat(OutputBuffer& out, std::string_view name, std::string_view value) {
  out.append("STAT ");
  out.append(name);
  out.append(" ");
  out.append(value);
  out.append("\r\n");
}

bool parse_u32(std::string_view s, std::uint32_t& v) {
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  return !s.empty() && ec == std::errc() && end == s.data() + s.size();
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
      if (swallow_left_ > 0) {
        // A block cut short by the end of input never completes.
        if (end_of_input_) closing_ = true;
        return;
      }
      continue;
    }
    std::string_view line;
    std::size_t used = 0;
    switch (framer_.next(in.pending(), line, used)) {
      case LineFramer::Result::need_more:
        if (end_of_input_) handle_last_line(in, out);
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

// After end_of_input(): what is left is one line without its "\n" (the
// framer has found no "\n" in it, and it is within the line limit, a '\r' at
// its end included). go-katsubushi answers such a line; so do we, then close.
void TextSession::handle_last_line(InputBuffer& in, OutputBuffer& out) {
  std::string_view line = in.pending();
  if (!line.empty()) {
    if (line.back() == '\r') line.remove_suffix(1);  // as after a "\r\n"-less line's '\r'
    in.consume(in.pending().size());
    handle_line(line, in, out);
    // A storage or ms header as the last line: its block can never arrive.
    swallow_left_ = 0;
  }
  closing_ = true;
}

void TextSession::handle_line(std::string_view line, InputBuffer& in, OutputBuffer& out) {
  parse_text_line(line, cmd_);
  // Every whole line is a request, an empty one included: each restarts the
  // shell's idle timer.
  ++completed_;
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
      handle_stats(out);
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
      start_swallow(cmd_.data_bytes, kError, cmd_.noreply, in, out);
      break;
    case TextCommandKind::meta:
      handle_meta(line, in, out);
      break;
  }
}

void TextSession::start_swallow(std::uint64_t data_bytes, std::string_view reply, bool noreply,
                                InputBuffer& in, OutputBuffer& out) {
  if (data_bytes > limits_.max_data_block_bytes) {
    close_after(kBlockTooLarge, in, out);
    return;
  }
  // The request counts as complete once its block has been skipped.
  --completed_;
  swallow_left_ = data_bytes + 2;
  swallow_reply_ = reply;
  swallow_noreply_ = noreply;
  swallow_tail_[0] = swallow_tail_[1] = 0;
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
  out.append(framed ? swallow_reply_ : kBadDataChunk);
}

void TextSession::append_server_error(std::error_code ec, OutputBuffer& out) {
  out.append("SERVER_ERROR ");
  out.append(ec.message());
  out.append("\r\n");
}

void TextSession::handle_get(bool with_cas, OutputBuffer& out) {
  const std::size_t n = cmd_.keys.size();
  id_scratch_.resize(n);
  if (const std::error_code ec = ids_.issue(id_scratch_)) {
    append_server_error(ec, out);
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
  out.append(kEnd);
}

void TextSession::handle_meta(std::string_view line, InputBuffer& in, OutputBuffer& out) {
  if (const MetaError error = parse_meta_line(line, meta_); error != MetaError::none) {
    out.append(meta_error_reply(error));
    return;
  }
  switch (meta_.kind) {
    case MetaCommandKind::get: {
      std::uint64_t id = 0;
      if (const std::error_code ec = ids_.issue({&id, 1})) {
        append_server_error(ec, out);  // errors are sent even with q
        return;
      }
      append_meta_get_reply(meta_, id, out);
      return;
    }
    case MetaCommandKind::noop:
      out.append(kMetaNoopReply);
      return;
    case MetaCommandKind::set:
      // Skip the block like a storage command's, then refuse; errors ignore q.
      start_swallow(meta_.data_bytes, meta_unsupported_reply(meta_.kind), false, in, out);
      return;
    case MetaCommandKind::remove:
    case MetaCommandKind::arithmetic:
    case MetaCommandKind::debug:
      out.append(meta_unsupported_reply(meta_.kind));
      return;
  }
}

void TextSession::handle_stats(OutputBuffer& out) {
  const std::string_view group = cmd_.stats_group;
  const auto arg = [this](std::size_t i) {
    return i < cmd_.stats_nargs ? cmd_.stats_args[i] : std::string_view();
  };
  StatList stats;
  if (group.empty()) {
    if (services_.stats != nullptr) stats = services_.stats->general_stats();
  } else if (iequals_ascii(group, "settings")) {
    if (services_.stats != nullptr) stats = services_.stats->settings_stats();
  } else if (iequals_ascii(group, "items") || iequals_ascii(group, "conns")) {
    // Nothing is stored, and the core sees no other connection: memcached's
    // shape with no lines.
  } else if (iequals_ascii(group, "slabs")) {
    append_stat(out, "active_slabs", "0");
    append_stat(out, "total_malloced", "0");
  } else if (iequals_ascii(group, "sizes")) {
    append_stat(out, "sizes_status", "disabled");
  } else if (iequals_ascii(group, "reset")) {
    // Counters only: no id, clock or sequence state is touched.
    services_.counters.reset();
    if (services_.stats != nullptr) services_.stats->reset_stats();
    out.append("RESET\r\n");
    return;
  } else if (iequals_ascii(group, "detail")) {
    // Per-prefix detail has nothing to record here: on/off are accepted, dump is empty.
    if (iequals_ascii(arg(0), "on") || iequals_ascii(arg(0), "off")) {
      out.append("OK\r\n");
    } else if (iequals_ascii(arg(0), "dump")) {
      out.append(kEnd);
    } else {
      out.append("CLIENT_ERROR usage: stats detail on|off|dump\r\n");
    }
    return;
  } else if (iequals_ascii(group, "cachedump")) {
    std::uint32_t slab_class = 0;
    std::uint32_t limit = 0;
    if (cmd_.stats_nargs < 2) {
      out.append("CLIENT_ERROR bad command line\r\n");
    } else if (!parse_u32(arg(0), slab_class) || !parse_u32(arg(1), limit)) {
      out.append(kBadFormat);
    } else if (slab_class >= kSlabClasses) {
      out.append("CLIENT_ERROR Illegal slab id\r\n");
    } else {
      out.append(kEnd);  // no items in any class
    }
    return;
  } else {
    out.append(kError);
    return;
  }
  for (const auto& [name, value] : stats) append_stat(out, name, value);
  out.append(kEnd);
}

}  // namespace katsubushi::proto
