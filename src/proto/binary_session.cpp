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

bool is_get(std::uint8_t opcode) noexcept {
  const auto op = static_cast<Opcode>(opcode);
  return op == Opcode::get || op == Opcode::getq || op == Opcode::getk || op == Opcode::getkq;
}

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

namespace {

// The most ids one block takes for gets read together.
constexpr std::size_t kIdBlock = 256;

// The block of the thread that runs process(): a call uses it up before it
// returns, and no other session's call runs on this thread meanwhile.
std::uint64_t* thread_id_block() {
  thread_local std::array<std::uint64_t, kIdBlock> block{};
  return block.data();
}

}  // namespace

std::size_t BinarySession::gets_ahead(std::string_view pending,
                                      const service::OutputBuffer& out) const {
  // A get reply: header, flags, a key of up to kMaxKeyBytes, 20 digits.
  constexpr std::size_t kMaxGetReply = binary::kHeaderBytes + 4 + kMaxKeyBytes + 20;
  const std::size_t unsent = out.unsent_size();
  // process() goes on while unsent < max_output_bytes: that many more surely fit.
  const std::size_t room = limits_.max_output_bytes > unsent
                               ? 1 + (limits_.max_output_bytes - unsent - 1) / kMaxGetReply
                               : 1;
  std::size_t n = 0;
  while (n < std::min(room, kIdBlock) && !pending.empty()) {
    const auto h = binary::parse_header(pending);
    if (!h || static_cast<unsigned char>(pending.front()) != binary::kRequestMagic ||
        !well_framed(*h) || !is_known(h->opcode) || !well_formed(*h)) {
      break;
    }
    if (!is_get(h->opcode)) break;
    const std::size_t packet = binary::kHeaderBytes + h->body_length;
    if (pending.size() < packet) break;
    ++n;
    pending.remove_prefix(packet);
  }
  return std::max<std::size_t>(n, 1);
}

void BinarySession::process(service::InputBuffer& in, service::OutputBuffer& out) {
  not_before_ = 0;
  // Ids of an earlier call are never carried over (there are none left:
  // gets_ahead() takes only what this call answers).
  block_used_ = block_filled_ = 0;
  block_ = thread_id_block();
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
    if (block_used_ == block_filled_ && is_get(h.opcode)) {
      // The gets read together take their ids in one block.
      block_used_ = block_filled_ = 0;
      const auto issued = ids_.issue_ahead(
          std::span<std::uint64_t>(block_, gets_ahead(pending, out)));
      block_filled_ = issued.filled;
      if (issued.filled == 0 && issued.not_before_unix_ms != 0) {
        not_before_ = issued.not_before_unix_ms;
        return;  // waits for ids: the packet stays in `in`
      }
      block_error_ = issued.filled == 0 ? issued.error : std::error_code{};
    }
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
  if (block_used_ == block_filled_) {
    // The block's error (the ids ran out for it: a fresh block was asked for
    // this get and gave none).
    // Quiet gets hide misses only; a server error is always reported.
    const std::string reason = block_error_.message();
    append_reply(out, Reply(h, Status::internal_error, reason));
    block_error_ = {};
    return true;
  }
  const std::uint64_t id = block_[block_used_++];
  const service::DecimalDigits digits(id);
  Reply reply(h);
  reply.cas = id;
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
