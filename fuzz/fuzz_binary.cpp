// The memcached binary protocol through SessionCore, driven as the Asio shell
// drives it: it reads (a fuzzer-chosen number of bytes, copied or lent for
// one receive_and_process() call) only once everything owed is sent and the
// session wants input, processes again after each partial write, and goes on
// with a request left waiting before anything else (at "not before T" its
// timer fires at T or later); meanwhile the clock steps, stalls and rewinds,
// and other connections draw ids.
//
// Oracles: the output is a sequence of well-formed response packets (magic
// 0x81, raw data type, key + extras within the body) with only the statuses
// and messages this server sends, each where it may appear; a successful get
// carries 4 zero flag bytes, its key exactly for GetK/GetKQ, and a decimal id
// equal to its cas, with our worker id, strictly increasing; nothing follows
// "Invalid arguments" or a Quit reply; bytes held stay under a bound of one
// partial packet plus one read in, one reply over the limit out (an announced
// body is skipped, never buffered); once closing, nothing more is said;
// cmd_get = get_hits + get_misses; every id the session issues is sent; no
// call into the core sleeps or issues more than a step's ids, and "not
// before T" names a millisecond still to come; and neither the chunking, the
// clock nor the pace of reading changes which replies are sent (compared
// with the same bytes sent at once to a session whose clock never moves).
//
// Input layout (as FuzzedDataProvider does it): client bytes from the front,
// control bytes (read sizes, clock moves, how much the client reads) from the
// back, so a seed is plain client traffic plus a few trailing bytes.
#include <algorithm>
#include <charconv>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "config/limits.hpp"
#include "id/issue_waiting.hpp"
#include "id/layout.hpp"
#include "proto/binary_packet.hpp"
#include "proto/text_command.hpp"
#include "proto/text_session.hpp"
#include "service/buffers.hpp"
#include "support.hpp"
#include "testing/binary_wire.hpp"
#include "testing/session_rig.hpp"

namespace {

using namespace katsubushi;
using fuzz::check;
using fuzz::checked_core_call;
using fuzz::FuzzInput;
using fuzz::lend_once;
using proto::binary::kHeaderBytes;
using testing::read_big_endian;
using testing::SessionRig;

// Bodies up to 64 KiB are skipped, so most arrive over many reads.
constexpr katsubushi::service::SessionLimits kLimits{
    .max_line_bytes = 256, .max_output_bytes = 4096, .max_data_block_bytes = 64 * config::kKiB};
constexpr std::string_view kVersion = "1.2.3-fuzz";
constexpr testing::RigOptions kRig{.limits = kLimits,
                                   .generator = {.max_backward_wait_ms = 250},
                                   .worker_id = 7,
                                   .start_unix_ms = 1'704'067'200'000,  // 2024-01-01T00:00:00Z
                                   .version = kVersion};

// Largest read the driver makes at once.
constexpr std::size_t kMaxRead = 509;
// Largest output of one request: a GetK with a 250-byte key is 24 + 4 + 250 +
// at most 20 digits; error replies carry a short reason; the rig's stats are
// three small packets.
constexpr std::size_t kMaxReplyBytes = 512;

bool is_get(std::uint64_t op) { return op == 0x00 || op == 0x09 || op == 0x0C || op == 0x0D; }
bool is_known(std::uint64_t op) {
  return is_get(op) || op == 0x07 || op == 0x0A || op == 0x0B || op == 0x10 || op == 0x17;
}

// Walks the transcript packet by packet as it grows.
class ReplyChecker {
 public:
  // Checks every whole packet from where the last call stopped.
  void run(std::string_view transcript) {
    while (transcript.size() - pos_ >= kHeaderBytes) {
      const std::string_view rest = transcript.substr(pos_);
      const std::uint64_t body = read_big_endian(rest, 8, 4);
      if (rest.size() < kHeaderBytes + body) return;
      one_packet(rest.substr(0, kHeaderBytes + body));
      pos_ += kHeaderBytes + body;
    }
  }
  // Everything was read: no packet may be cut short.
  void finish(std::string_view transcript) {
    run(transcript);
    check(pos_ == transcript.size());
  }

  // Which replies were sent, without what depends on the clock: a get's
  // opcode and opaque only (an id or a refusal), every other packet whole.
  const std::string& shape() const { return shape_; }
  // Ids sent in successful get replies.
  std::size_t ids() const { return ids_; }

 private:
  void one_packet(std::string_view p) {
    check(!ended_);  // nothing after "Invalid arguments" or a Quit reply
    check(read_big_endian(p, 0, 1) == testing::kResponseMagic && read_big_endian(p, 5, 1) == 0);
    const std::uint64_t op = read_big_endian(p, 1, 1);
    const std::uint64_t key_length = read_big_endian(p, 2, 2);
    const std::uint64_t extras_length = read_big_endian(p, 4, 1);
    const std::uint64_t status = read_big_endian(p, 6, 2);
    const std::uint64_t cas = read_big_endian(p, 16, 8);
    check(key_length + extras_length <= p.size() - kHeaderBytes);
    const std::string_view extras = p.substr(kHeaderBytes, extras_length);
    const std::string_view key = p.substr(kHeaderBytes + extras_length, key_length);
    const std::string_view value = p.substr(kHeaderBytes + extras_length + key_length);
    const bool bare = extras.empty() && key.empty() && cas == 0;
    if (is_get(op)) {
      shape_.append(p.substr(1, 1)).append(p.substr(12, 4));
    } else {
      shape_.append(p);
    }
    switch (status) {
      case 0x0000:
        ok(op, extras, key, value, cas);
        return;
      case 0x0001:  // an unknown stats group
        check(op == 0x10 && bare && value == "Not found");
        return;
      case 0x0004:  // refused, then the close
        check(bare && value == "Invalid arguments");
        ended_ = true;
        return;
      case 0x0081:
        check(!is_known(op) && bare && value == "Unknown command");
        return;
      case 0x0084:  // the generator could not issue: the reason
        check(is_get(op) && bare && !value.empty() && value.size() <= 128);
        for (const char c : value) check(c >= 0x20 && c < 0x7f);
        return;
      default:
        check(false);
    }
  }

  void ok(std::uint64_t op, std::string_view extras, std::string_view key, std::string_view value,
          std::uint64_t cas) {
    if (is_get(op)) {
      check(extras == std::string_view("\0\0\0\0", 4));
      const bool with_key = op == 0x0C || op == 0x0D;
      check(with_key ? !key.empty() && key.size() <= proto::kMaxKeyBytes : key.empty());
      std::uint64_t id = 0;
      const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), id);
      check(ec == std::errc() && end == value.data() + value.size() && value.front() != '0');
      check(id == cas && id >> 63 == 0 && id::decode(id).worker_id == kRig.worker_id);
      check(id > last_id_);
      last_id_ = id;
      ++ids_;
      return;
    }
    check(extras.empty() && cas == 0);
    switch (op) {
      case 0x07:  // Quit: then the close
        ended_ = true;
        [[fallthrough]];
      case 0x0A:
        check(key.empty() && value.empty());
        return;
      case 0x0B:
        check(key.empty() && value == kVersion);
        return;
      case 0x10:  // a stat, or the terminator
        check(!key.empty() || value.empty());
        return;
      default:
        check(false);  // QuitQ and unknown opcodes never succeed
    }
  }

  std::size_t pos_ = 0;
  std::uint64_t last_id_ = 0;
  std::size_t ids_ = 0;
  bool ended_ = false;
  std::string shape_;
};

// What happens around the session between two steps: the clock stalls,
// steps, rewinds or jumps out of range; other connections draw ids.
void elsewhere(id::ManualClock& clock, id::IdGenerator& generator, std::uint8_t c) {
  const std::int64_t arg = c >> 3;  // 0..31
  switch (c & 7) {
    case 0:
    case 1:
    case 2:
      break;  // stall
    case 3:
      clock.advance(1 + arg);
      break;
    case 4:
      clock.advance(-(1 + arg));  // small rewind: waited out
      break;
    case 5:
      clock.advance(-arg * 97);  // large rewind: refused once the millisecond is used up
      break;
    case 6:
      if (arg == 31) {
        clock.set(id::kEpochUnixMs - 1);
      } else if (arg == 30) {
        clock.set(id::kEpochUnixMs + id::kMaxTimestamp + 1);
      } else {
        clock.set(kRig.start_unix_ms + arg * 50);
      }
      break;
    case 7: {
      // Up to more than a millisecond's 4096 ids: the next get must wait.
      std::vector<std::uint64_t> ids(static_cast<std::size_t>(arg + 1) * 150);
      katsubushi::id::issue_waiting(generator, ids);
      break;
    }
  }
}

// The same bytes sent at once to a fresh session whose clock never moves.
std::string reference_shape(std::string_view sent, bool& closing, std::uint64_t& completed) {
  SessionRig rig(kRig);
  rig.feed_all(sent);
  // The rig waits as the shell does, by moving the clock: nothing sleeps.
  check(rig.clock.sleeps() == 0);
  ReplyChecker replies;
  replies.finish(rig.transcript);
  closing = rig.core.closing();
  completed = rig.core.completed_requests();
  return replies.shape();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  // Binary traffic only: the text and HTTP targets cover the other branches.
  if (size == 0 || data[0] != proto::binary::kRequestMagic) return 0;
  FuzzInput in(data, size);
  SessionRig rig(kRig);
  katsubushi::session::SessionCore& core = rig.core;
  ReplyChecker replies;
  std::string sent;
  // Ids the core issued; elsewhere() draws others from the same generator.
  std::uint64_t session_ids = 0;
  fuzz::SessionWatch watch;

  const auto after_process = [&] {
    watch.after_process(core, rig.transcript.size());
    // In: a partial packet (a header and at most a key: bodies are skipped)
    // plus one read; alone once nothing is owed. Out: under the limit before
    // the last reply, plus it.
    // The storage holding them is within katsubushi::service::storage_bound() of that.
    constexpr std::size_t kMaxIn = kHeaderBytes + proto::kMaxKeyBytes + kMaxRead;
    check(core.output().size() <= kLimits.max_output_bytes + kMaxReplyBytes);
    check(core.buffered_bytes() <= katsubushi::service::storage_bound(kMaxIn) +
                                       katsubushi::service::storage_bound(kLimits.max_output_bytes +
                                                            kMaxReplyBytes));
    if (core.output().empty()) check(core.buffered_bytes() <= katsubushi::service::storage_bound(kMaxIn));
    check(rig.counters.cmd_get.load() ==
          rig.counters.get_hits.load() + rig.counters.get_misses.load());
    replies.run(rig.transcript);
  };

  // Every call into the core: it never sleeps (only issue_waiting(), from
  // elsewhere(), moves sleeps()), issues at most a step's ids (each get
  // answers at once, so the output limit bounds them well below that), and a
  // "not before T" names a millisecond the clock has not reached, with no
  // input wanted meanwhile.
  const auto call_core = [&](auto&& call) {
    session_ids += checked_core_call(rig, proto::TextSession::kIdsPerStep, call);
    check(!core.yielded());  // only text sessions yield
    after_process();
  };
  const auto process = [&] { call_core([&] { core.process(); }); };

  // What the shell does before anything else: a request left waiting is
  // gone on with when its timer fires, at T or later (other connections may
  // run meanwhile).
  const auto settle = [&] {
    for (std::size_t rounds = 0;; ++rounds) {
      // Each round takes a control byte or answers at least one request.
      check(rounds <= 2 * size + 16);
      const std::int64_t at = core.not_before_unix_ms();
      if (at == 0) break;
      if (auto c = in.control()) elsewhere(rig.clock, rig.generator, *c);
      if (rig.clock.now_unix_ms() < at) rig.clock.set(at);
      process();
    }
    check(core.wants_input() ==
          (!core.closing() && core.output().size() < kLimits.max_output_bytes));
  };

  while (!in.empty() && !core.closing()) {
    const std::uint8_t c = *in.control();
    if (core.output().empty() && core.wants_input()) {
      // The shell reads only once everything owed is sent.
      const std::size_t n = (c & 0x80) != 0 ? 1 + (c & 0x7f) * 4u : 1 + c % 16u;
      const std::string_view bytes = in.client_bytes(n);
      if (bytes.empty()) break;
      if ((c & 0x81) == 0x81) {
        // As the shell reads: lent, and answered at once.
        call_core([&] { lend_once(core, bytes); });
        settle();
      } else {
        core.receive(bytes);
      }
      sent.append(bytes);
    } else {
      // The client takes some of the output, or none yet.
      const std::size_t arg = c >> 2;
      const std::size_t owed = core.output().size();
      switch (c & 3) {
        case 0:
          break;
        case 1:
          rig.read(owed);
          break;
        case 2:
          rig.read(arg);
          break;
        case 3:
          rig.read(owed - std::min(arg, owed));
          break;
      }
    }
    if (auto e = in.control()) elsewhere(rig.clock, rig.generator, *e);
    process();
    settle();
  }
  // The client reads everything; the shell answers what is left.
  for (;;) {
    rig.drain();
    process();
    settle();
    if (core.output().empty()) break;
  }
  replies.finish(rig.transcript);
  // Every id the session issued was sent.
  check(session_ids == replies.ids());

  bool closing = false;
  std::uint64_t reference_completed = 0;
  check(reference_shape(sent, closing, reference_completed) == replies.shape());
  check(closing == core.closing() && reference_completed == core.completed_requests());
  return 0;
}
