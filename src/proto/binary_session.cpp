#include "proto/binary_session.hpp"

#include <algorithm>
#include <array>

#include "service/ascii.hpp"
#include "proto/stats_groups.hpp"
#include "proto/text_command.hpp"

namespace katsubushi::proto {

namespace {

using binary::Header;
using binary::Opcode;
using binary::Reply;
using binary::Status;
using binary::append_reply;

constexpr std::string_view kInvalidArguments = "Invalid arguments";
constexpr std::string_view kUnknownCommand = "Unknown command";
constexpr std::string_view kNoSuchStatsGroup = "Not found";
// Get replies carry 4 bytes of client flags, always 0 here.
constexpr std::string_view kZeroFlags{"\0\0\0\0", 4};

bool is_known(std::uint8_t opcode) noexcept {
  switch (static_cast<Opcode>(opcode)) {
    case Opcode::get:
    case Opcode::getq:
    case Opcode::getk:
    case Opcode::getkq:
    case Opcode::noop:
    case Opcode::version:
    case Opcode::stat:
    case Opcode::quit:
    case Opcode::quitq:
      return true;
  }
  return false;
}

}  // namespace

BinarySession::BinarySession(const service::SessionServices& services, const service::SessionLimits& limits)
    : services_(services), limits_(limits), ids_(services.generator, services.counters) {}

bool BinarySession::well_framed(const Header& h) const noexcept {
  return std::uint64_t{h.key_length} + h.extras_length <= h.body_length &&
         h.body_length <= limits_.max_data_block_bytes && h.key_length <= kMaxKeyBytes;
}

bool BinarySession::well_formed(const Header& h) noexcept {
  const bool no_extras = h.extras_length == 0;
  const bool key_is_body = h.body_length == h.key_length;
  switch (static_cast<Opcode>(h.opcode)) {
    case Opcode::get:
    case Opcode::getq:
    case Opcode::getk:
    case Opcode::getkq:
      return no_extras && key_is_body && h.key_length > 0;
    case Opcode::stat:
      return no_extras && key_is_body;
    case Opcode::noop:
    case Opcode::version:
    case Opcode::quit:
    case Opcode::quitq:
      return no_extras && h.key_length == 0 && h.body_length == 0;
  }
  return false;
}

void BinarySession::refuse_and_close(const Header& h, service::InputBuffer& in, service::OutputBuffer& out) {
  append_reply(out, Reply(h, Status::invalid_arguments, kInvalidArguments));
  closing_ = true;
  in.clear();
}

void BinarySession::process(service::InputBuffer& in, service::OutputBuffer& out) {
  not_before_ = 0;
  while (!closing_ && out.unsent_size() < limits_.max_output_bytes) {
    if (skip_left_ > 0) {
      const auto n = static_cast<std::size_t>(
          std::min<std::uint64_t>(skip_left_, in.pending().size()));
      in.consume(n);
      skip_left_ -= n;
      if (skip_left_ > 0) return;
      continue;
    }
    const std::string_view pending = in.pending();
    if (pending.empty()) return;
    if (static_cast<unsigned char>(pending.front()) != binary::kRequestMagic) {
      // Not a request packet: the stream cannot be resynchronised.
      closing_ = true;
      in.clear();
      return;
    }
    const auto header = binary::parse_header(pending);
    if (!header) return;  // wait for the whole header
    const Header& h = *header;
    if (!well_framed(h)) {
      refuse_and_close(h, in, out);
      return;
    }
    if (!is_known(h.opcode)) {
      // Answered at once; the body is skipped as it arrives, never buffered.
      ++completed_;
      append_reply(out, Reply(h, Status::unknown_command, kUnknownCommand));
      in.consume(binary::kHeaderBytes);
      skip_left_ = h.body_length;
      continue;
    }
    if (!well_formed(h)) {
      refuse_and_close(h, in, out);
      return;
    }
    // Known requests are small (a key at most): wait for the whole packet.
    const std::size_t packet = binary::kHeaderBytes + h.body_length;
    if (pending.size() < packet) return;
    const std::string_view key = pending.substr(binary::kHeaderBytes + h.extras_length,
                                                h.key_length);
    if (!answer(h, key, out)) return;  // waits for ids: the packet stays in `in`
    ++completed_;
    in.consume(packet);
    if (closing_) in.clear();
  }
}

bool BinarySession::answer(const Header& h, std::string_view key, service::OutputBuffer& out) {
  switch (static_cast<Opcode>(h.opcode)) {
    case Opcode::get:
    case Opcode::getq:
    case Opcode::getk:
    case Opcode::getkq:
      return answer_get(h, key, out);
    case Opcode::noop:
      append_reply(out, Reply(h));
      break;
    case Opcode::version:
      append_reply(out, Reply(h, Status::ok, services_.version));
      break;
    case Opcode::stat:
      answer_stat(h, key, out);
      break;
    case Opcode::quit:
      append_reply(out, Reply(h));
      closing_ = true;
      break;
    case Opcode::quitq:
      closing_ = true;
      break;
  }
  return true;
}

bool BinarySession::answer_get(const Header& h, std::string_view key, service::OutputBuffer& out) {
  const auto opcode = static_cast<Opcode>(h.opcode);
  const bool with_key = opcode == Opcode::getk || opcode == Opcode::getkq;
  std::array<std::uint64_t, 1> id{};
  const auto issued = ids_.issue_all(id);
  if (issued.not_before_unix_ms != 0) {
    not_before_ = issued.not_before_unix_ms;
    return false;
  }
  if (issued.error) {
    // Quiet gets hide misses only; a server error is always reported.
    const std::string reason = issued.error.message();
    append_reply(out, Reply(h, Status::internal_error, reason));
    return true;
  }
  const service::DecimalDigits digits(id[0]);
  Reply reply(h);
  reply.cas = id[0];
  reply.extras = kZeroFlags;
  if (with_key) reply.key = key;
  reply.value = digits.view();
  append_reply(out, reply);
  return true;
}

void BinarySession::answer_stat(const Header& h, std::string_view key, service::OutputBuffer& out) {
  const StatsGroup group = stats_group_named(key, StatsDialect::binary);
  if (group == StatsGroup::unknown) {
    append_reply(out, Reply(h, Status::key_not_found, kNoSuchStatsGroup));
    return;
  }
  for (const auto& [name, value] : answer_stats_group(group, services_.counters, services_.stats)) {
    Reply reply(h, Status::ok, value);
    reply.key = name;
    append_reply(out, reply);
  }
  append_reply(out, Reply(h));  // the terminator
}

}  // namespace katsubushi::proto
