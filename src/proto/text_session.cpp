#include "proto/text_session.hpp"

#include <algorithm>
#include <array>
#include <cstring>
#include <span>

#include "service/ascii.hpp"
#include "proto/meta_reply.hpp"
#include "proto/stats_groups.hpp"
#include "proto/text_parser.hpp"

namespace katsubushi::proto {

namespace {

constexpr std::string_view kError = "ERROR\r\n";
constexpr std::string_view kBadFormat = "CLIENT_ERROR bad command line format\r\n";
constexpr std::string_view kLineTooLong = "CLIENT_ERROR line too long\r\n";
constexpr std::string_view kBadDataChunk = "CLIENT_ERROR bad data chunk\r\n";
constexpr std::string_view kBlockTooLarge = "CLIENT_ERROR data block too large\r\n";
constexpr std::string_view kEnd = "END\r\n";
constexpr std::string_view kTooManyKeys = "CLIENT_ERROR too many keys in one get\r\n";

// Copies `bytes` to `at`; returns the address after them.
char* put(char* at, std::string_view bytes) noexcept {
  std::memcpy(at, bytes.data(), bytes.size());
  return at + bytes.size();
}

}  // namespace

TextSession::TextSession(const service::SessionServices& services, const service::SessionLimits& limits)
    : services_(services),
      limits_(limits),
      ids_(services.generator, services.counters),
      framer_(limits.max_line_bytes) {}

void TextSession::close_after(std::string_view final_reply, service::InputBuffer& in, service::OutputBuffer& out) {
  out.append(final_reply);
  closing_ = true;
  in.clear();
  swallow_left_ = 0;
}

void TextSession::process(service::InputBuffer& in, service::OutputBuffer& out) {
  ids_left_in_step_ = kIdsPerStep;
  yielded_ = false;
  not_before_ = 0;
  while (!closing_ && out.unsent_size() < limits_.max_output_bytes && not_before_ == 0) {
    if (ids_left_in_step_ == 0) {
      // Come back at once only if something is left to answer.
      yielded_ = line_bytes_ != 0 || swallow_left_ > 0 || !in.pending().empty();
      return;
    }
    if (line_bytes_ != 0) {
      resume(in, out);
      if (line_bytes_ != 0) return;  // waiting: for ids, or for room in `out`
      continue;
    }
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
        if (end_of_input_) {
          handle_last_line(in, out);
        } else if (in.pending().size() >=
                   std::min(kScanAheadFromBytes, limits_.max_line_bytes / 4)) {
          scan_ahead(in.pending());
        }
        return;
      case LineFramer::Result::too_long:
        close_after(kLineTooLong, in, out);
        return;
      case LineFramer::Result::line:
        // `line` points into `in`; it stays valid until the next prepare().
        handle_line(line, used, in, out);
        ahead_.reset();
        not_a_get_ahead_ = false;
        break;
    }
  }
}

// After end_of_input(): what is left is one line without its "\n" (the
// framer has found no "\n" in it, and it is within the line limit, a '\r' at
// its end included). go-katsubushi answers such a line; so do we, then close.
void TextSession::handle_last_line(service::InputBuffer& in, service::OutputBuffer& out) {
  std::string_view line = in.pending();
  if (!line.empty()) {
    const std::size_t used = line.size();
    if (line.back() == '\r') line.remove_suffix(1);  // as after a "\r\n"-less line's '\r'
    handle_line(line, used, in, out);
    // A storage or ms header as the last line: its block can never arrive.
    swallow_left_ = 0;
    // A get still being answered closes once its END is written.
    if (line_bytes_ != 0) return;
  }
  closing_ = true;
}

void TextSession::hold_line(std::string_view line, std::size_t used) {
  line_length_ = line.size();
  line_bytes_ = used;
  // Counted once answered (handle_line counted it already).
  --completed_;
}

void TextSession::finish_line(service::InputBuffer& in) {
  in.consume(line_bytes_);
  line_bytes_ = line_length_ = 0;
  get_active_ = false;
  ++completed_;
}

void TextSession::resume(service::InputBuffer& in, service::OutputBuffer& out) {
  if (get_active_) {
    continue_get(in, out);
    return;
  }
  // A meta get that waited for ids: answer its line again from the start.
  const std::string_view line = in.pending().substr(0, line_length_);
  const std::size_t used = line_bytes_;
  line_bytes_ = line_length_ = 0;
  handle_line(line, used, in, out);
}

void TextSession::handle_line(std::string_view line, std::size_t used, service::InputBuffer& in,
                              service::OutputBuffer& out) {
  // Parsed into a local: nothing of a request is kept between lines but a
  // get in hand, so an idle session holds no parsed request.
  TextCommand cmd;
  parse_text_line(line, cmd, ahead_.get());
  // Every whole line is a request, an empty one included: each restarts the
  // shell's idle timer.
  ++completed_;
  const bool gives_ids = cmd.kind == TextCommandKind::get ||
                         cmd.kind == TextCommandKind::gets || cmd.kind == TextCommandKind::meta;
  if (!gives_ids) in.consume(used);
  switch (cmd.kind) {
    case TextCommandKind::empty:
    case TextCommandKind::unknown:
      out.append(kError);
      break;
    case TextCommandKind::bad_format:
      out.append(kBadFormat);
      break;
    case TextCommandKind::get:
    case TextCommandKind::gets:
      if (cmd.key_count > limits_.max_keys_per_get) {
        in.consume(used);
        out.append(kTooManyKeys);
        break;
      }
      hold_line(line, used);
      get_active_ = true;
      get_with_cas_ = cmd.kind == TextCommandKind::gets;
      get_cursor_ = static_cast<std::size_t>(cmd.keys.data() - line.data());
      get_keys_left_ = cmd.key_count;
      continue_get(in, out);
      break;
    case TextCommandKind::stats:
      handle_stats(cmd, out);
      break;
    case TextCommandKind::version:
      out.append("VERSION ");
      out.append(services_.version);
      out.append("\r\n");
      break;
    case TextCommandKind::verbosity:
      if (!cmd.noreply) out.append("OK\r\n");
      break;
    case TextCommandKind::quit:
      close_after({}, in, out);
      break;
    case TextCommandKind::storage:
      start_swallow(cmd.data_bytes, kError, cmd.noreply, in, out);
      break;
    case TextCommandKind::meta:
      hold_line(line, used);
      handle_meta(line, in, out);
      // Answered unless it waits for ids (then it stays in hand).
      if (not_before_ == 0) finish_line(in);
      break;
  }
}

void TextSession::scan_ahead(std::string_view pending) {
  if (!ahead_) {
    if (not_a_get_ahead_) return;
    // The command name as parse_text_line() finds it, once it is whole.
    TextTokenizer tokens(pending);
    std::string_view name;
    if (!tokens.next(name) || tokens.position() == pending.size()) return;
    if (!is_get_name(name)) {
      not_a_get_ahead_ = true;
      return;
    }
    ahead_ = std::make_unique<KeysScannedAhead>();
    ahead_->keys_from = ahead_->upto = tokens.position();
  }
  ahead_->scan.feed(pending.substr(ahead_->upto));
  ahead_->upto = pending.size();
}

void TextSession::start_swallow(std::uint64_t data_bytes, std::string_view reply, bool noreply,
                                service::InputBuffer& in, service::OutputBuffer& out) {
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

void TextSession::swallow_data(service::InputBuffer& in, service::OutputBuffer& out) {
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

void TextSession::append_server_error(std::error_code ec, service::OutputBuffer& out) {
  out.append("SERVER_ERROR ");
  out.append(ec.message());
  out.append("\r\n");
}

// The next slice of the get in hand: as many keys as the step's ids, the
// room left in `out` and the generator's current millisecond allow. Its line
// is consumed, and END written, once every key is answered.
void TextSession::continue_get(service::InputBuffer& in, service::OutputBuffer& out) {
  // Bytes of one VALUE entry besides its key: "VALUE ", " 0 ", the length,
  // " " and the cas, "\r\n", the id and "\r\n", all at their longest.
  constexpr std::size_t kEntryOverhead = 6 + 3 + 2 + 21 + 2 + 20 + 2;
  constexpr std::size_t kKeysPerIssue = 256;
  const std::string_view line = in.pending().substr(0, line_length_);
  // One key of the slice and the cursor after it. Both arrays are left
  // uninitialized (only the first n entries are written, then read): clearing
  // them was 8 KiB of stores for every one-key get, a fifth of the daemon's
  // CPU time under pipelined one-key gets.
  struct SliceKey {
    const char* data;
    std::size_t size;
    std::size_t after;
  };
  std::array<SliceKey, kKeysPerIssue> keys;
  std::array<std::uint64_t, kKeysPerIssue> ids;
  service::DecimalRun digits;
  if (get_keys_left_ > kKeysPerIssue && out.unsent_size() < limits_.max_output_bytes) {
    // A get of many keys fills the output to its limit: take the room at
    // once rather than growing it a slice at a time (each growth a copy).
    out.reserve_more(limits_.max_output_bytes - out.unsent_size());
  }
  while (get_keys_left_ > 0) {
    if (out.unsent_size() >= limits_.max_output_bytes) return;
    if (ids_left_in_step_ == 0) {
      yielded_ = true;
      return;
    }
    const std::size_t room = limits_.max_output_bytes - out.unsent_size();
    const std::size_t most = std::min({kKeysPerIssue, get_keys_left_, ids_left_in_step_});
    TextTokenizer tokens(line, get_cursor_);
    std::size_t n = 0;
    std::size_t bytes = 0;
    std::string_view key;
    while (n < most && tokens.next(key)) {
      bytes += key.size() + kEntryOverhead;
      if (n > 0 && bytes > room) break;
      keys[n] = {key.data(), key.size(), tokens.position()};
      ++n;
    }
    const auto issued = ids_.issue_some(std::span<std::uint64_t>(ids.data(), n));
    // `bytes` bounds what the slice's entries take: they are written in
    // place, not appended a piece at a time.
    char* p = out.begin_write(bytes);
    for (std::size_t i = 0; i < issued.filled; ++i) {
      const std::string_view id = digits.next(ids[i]);
      p = put(p, "VALUE ");
      p = put(p, std::string_view(keys[i].data, keys[i].size));
      p = put(p, " 0 ");
      if (id.size() >= 10) *p++ = static_cast<char>('0' + id.size() / 10);
      *p++ = static_cast<char>('0' + id.size() % 10);
      if (get_with_cas_) {
        *p++ = ' ';
        p = put(p, id);
      }
      p = put(p, "\r\n");
      p = put(p, id);
      p = put(p, "\r\n");
    }
    out.end_write(p);
    if (issued.filled > 0) get_cursor_ = keys[issued.filled - 1].after;
    get_keys_left_ -= issued.filled;
    ids_left_in_step_ -= std::min(ids_left_in_step_, issued.filled);
    if (issued.error) {
      // The VALUEs already sent stand (those ids are issued); the get ends
      // with the error instead of END. Keys never answered count as misses.
      ids_.count_misses(get_keys_left_ - (n - issued.filled));
      append_server_error(issued.error, out);
      finish_line(in);
      return;
    }
    if (issued.not_before_unix_ms != 0) {
      not_before_ = issued.not_before_unix_ms;
      return;
    }
  }
  out.append(kEnd);
  finish_line(in);
}

void TextSession::handle_meta(std::string_view line, service::InputBuffer& in, service::OutputBuffer& out) {
  MetaRequest meta;
  if (const MetaError error = parse_meta_line(line, meta); error != MetaError::none) {
    out.append(meta_error_reply(error));
    return;
  }
  switch (meta.kind) {
    case MetaCommandKind::get: {
      std::uint64_t id = 0;
      const auto issued = ids_.issue_all({&id, 1});
      if (issued.not_before_unix_ms != 0) {
        not_before_ = issued.not_before_unix_ms;
        return;
      }
      if (issued.error) {
        append_server_error(issued.error, out);  // errors are sent even with q
        return;
      }
      if (ids_left_in_step_ > 0) --ids_left_in_step_;
      append_meta_get_reply(meta, id, out);
      return;
    }
    case MetaCommandKind::noop:
      out.append(kMetaNoopReply);
      return;
    case MetaCommandKind::set:
      // Skip the block like a storage command's, then refuse; errors ignore q.
      start_swallow(meta.data_bytes, meta_unsupported_reply(meta.kind), false, in, out);
      return;
    case MetaCommandKind::remove:
    case MetaCommandKind::arithmetic:
    case MetaCommandKind::debug:
      out.append(meta_unsupported_reply(meta.kind));
      return;
  }
}

void TextSession::handle_stats(const TextCommand& cmd, service::OutputBuffer& out) {
  const std::span<const std::string_view> args(cmd.stats_args.data(), cmd.stats_nargs);
  const StatsGroup group = stats_group_named(cmd.stats_group, StatsDialect::text);
  switch (group) {
    case StatsGroup::detail:
      out.append(stats_detail_reply(args));
      return;
    case StatsGroup::cachedump:
      out.append(stats_cachedump_reply(args));
      return;
    case StatsGroup::unknown:
      out.append(kError);
      return;
    default:
      break;
  }
  const service::StatList stats = answer_stats_group(group, services_.counters, services_.stats);
  if (group == StatsGroup::reset) {
    out.append("RESET\r\n");
    return;
  }
  for (const auto& [name, value] : stats) {
    out.append("STAT ");
    out.append(name);
    out.append(" ");
    out.append(value);
    out.append("\r\n");
  }
  out.append(kEnd);
}

}  // namespace katsubushi::proto
