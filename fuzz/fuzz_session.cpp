// The whole SessionCore, driven the way the Asio shell drives it: input in
// chunks the fuzzer chooses (copied, written in place, or lent for one
// receive_and_process() call as the shell's thread buffer is), read only
// while wants_input(); a request left waiting is gone on with first (at "not
// before T" the timer fires at T or later, after a yield at once); a
// simulated clock that steps, stalls and rewinds, other connections drawing
// ids from the same generator, output read back in full, in part or not at
// all.
//
// Oracles: the output stream is a sequence of well-formed replies (text and
// meta: VALUE/END, VALUEs cut short by SERVER_ERROR, VA/HD/MN, STAT blocks,
// RESET, errors); ids are strictly increasing over the whole session, carry
// one of our three worker ids, and equal their cas; every id the session issues is sent;
// get_hits counts the hits replied since the last RESET; no call into the
// core sleeps or issues more than a step's ids, and "not before T" names a
// millisecond still to come; buffered_bytes() stays under a bound derived
// from the limits; once closing(), no more output; between requests the
// session wants input exactly while it is open and under its output limit; a
// text session the client half-closed (odd-sized inputs end with
// SessionCore::end_of_input()) is closing once all is answered; and none of
// the chunking, clock or reading choices changes a reply (compared with a
// one-line-at-a-time replay).
//
// Input layout (as FuzzedDataProvider does it): client bytes are taken from
// the front, control bytes (chunk sizes, clock moves, how much to read) from
// the back, so a seed is plain client traffic plus a few trailing bytes.
#include <algorithm>
#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "id/generator.hpp"
#include "id/issue_waiting.hpp"
#include "id/layout.hpp"
#include "id/manual_clock.hpp"
#include "proto/text_session.hpp"
#include "service/buffers.hpp"
#include "service/stats.hpp"
#include "session/session.hpp"
#include "session/sniff.hpp"
#include "support.hpp"
#include "testing/reply_oracles.hpp"
#include "testing/session_rig.hpp"
#include "testing/wire.hpp"

namespace {

using namespace katsubushi;
using fuzz::check;
using fuzz::checked_core_call;
using fuzz::FuzzInput;
using fuzz::lend_once;
using fuzz::without_digits;
using testing::SessionRig;

// A line of 256 bytes holds up to 126 keys: gets of more than 120 are
// refused, and 117 one-byte keys already answer more than the output limit.
constexpr katsubushi::service::SessionLimits kLimits{.max_line_bytes = 256,
                                       .max_output_bytes = 4096,
                                       .max_data_block_bytes = 1024,
                                       .max_keys_per_get = 120};
constexpr std::string_view kVersion = "1.2.3-fuzz";
constexpr testing::RigOptions kRig{.limits = kLimits,
                                   // Three worker ids (-worker-id-count): 7, 8, 9.
                                   .generator = {.max_backward_wait_ms = 250,
                                                 .worker_id_count = 3},
                                   .worker_id = 7,
                                   .start_unix_ms = 1'704'067'200'000,  // 2024-01-01T00:00:00Z
                                   .version = kVersion};

// The largest reply one line of max_line_bytes (L) can produce: a `gets` line
// holds at most (L-4)/2 keys; a key of k bytes is answered with at most 54+k
// bytes ("VALUE " k " 0 " 2-digit len " " 19-digit cas "\r\n" 19 digits
// "\r\n"), so the whole reply is under 27.5*L + "END\r\n". Every other reply
// (errors, version, an mg's VA/HD with a 250-byte key and a 32-byte opaque,
// the HTTP 501 page) is far below 512 bytes; stats replies are counted
// separately below.
constexpr std::size_t kMaxGetReplyBytes = 28 * kLimits.max_line_bytes + 5;
constexpr std::size_t kMaxSmallReplyBytes = 512;

std::size_t first_server_error(std::string_view s) {
  if (s.starts_with("SERVER_ERROR ")) return 0;
  const std::size_t at = s.find("\r\nSERVER_ERROR ");
  return at == std::string_view::npos ? at : at + 2;
}

struct OneLineAtATime {
  std::string transcript;
  bool closing = false;
  std::uint64_t completed = 0;
};

// Feeds `sent` up to each '\n' in turn, so at most one request ends per
// process() call, and reads everything after each (a get sliced by the output
// limit is finished before the next line); then half-closes if the run under
// test did.
OneLineAtATime replay_one_line_at_a_time(std::string_view sent, bool half_close) {
  SessionRig rig(kRig);
  for (std::size_t pos = 0; pos < sent.size() && !rig.core.closing();) {
    const std::size_t nl = sent.find('\n', pos);
    const std::size_t end = nl == std::string_view::npos ? sent.size() : nl + 1;
    rig.feed_all(sent.substr(pos, end - pos));
    pos = end;
  }
  if (half_close && !rig.core.closing()) {
    rig.core.end_of_input();
    rig.feed_all({});
  }
  // The rig waits as the shell does, by moving the clock: nothing sleeps.
  check(rig.clock.sleeps() == 0);
  return {rig.transcript, rig.core.closing(), rig.core.completed_requests()};
}

// What happens around the session between two reads: the clock steps,
// stalls or jumps, other connections draw ids from the shared generator, and
// one of the three worker ids' leases is lost or comes back.
void elsewhere(id::ManualClock& clock, id::IdGenerator& generator, std::uint8_t c) {
  const std::int64_t arg = c >> 3;  // 0..31
  switch (c & 7) {
    case 0:
      break;  // stall
    case 1: {
      const auto worker = kRig.worker_id + static_cast<std::uint32_t>(arg % 3);
      if (arg < 16) {
        generator.drop_lease(worker);
      } else {
        generator.set_lease(worker, std::numeric_limits<std::int64_t>::max());
      }
      break;
    }
    case 2:
      clock.advance(1 + arg % 4);
      break;
    case 3:
      clock.advance(arg * 37);
      break;
    case 4:
      clock.advance(-(1 + arg % 8));  // small rewind: absorbed by waiting
      break;
    case 5:
      clock.advance(-arg * 97);  // large rewind: SERVER_ERROR past the limit
      break;
    case 6:
      if (arg == 31) {
        clock.set(id::kEpochUnixMs - 1);  // before the id epoch
      } else if (arg == 30) {
        clock.set(id::kEpochUnixMs + id::kMaxTimestamp + 1);  // past 41 bits
      } else {
        clock.set(kRig.start_unix_ms + arg);
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

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  // Memcached text and meta only: a conversation that the first bytes make
  // binary or HTTP belongs to fuzz_binary and fuzz_http, whose oracles know
  // those replies. (The client bytes are a prefix of the input, so they sniff
  // the same way or stay undecided, which ends as text.)
  const std::string_view whole(reinterpret_cast<const char*>(data), size);
  const katsubushi::session::Protocol sniffed = katsubushi::session::sniff_protocol(whole, kLimits.max_line_bytes);
  if (sniffed == katsubushi::session::Protocol::binary || sniffed == katsubushi::session::Protocol::http) return 0;
  FuzzInput in(data, size);
  SessionRig rig(kRig);
  katsubushi::session::SessionCore& core = rig.core;

  const std::string general = testing::stats_reply(rig.stats.general_stats());
  const std::string settings = testing::stats_reply(rig.stats.settings_stats());
  const std::size_t max_reply =
      std::max({kMaxGetReplyBytes, kMaxSmallReplyBytes, general.size(), settings.size()});
  // A get is answered a slice at a time, each sized to the room left under
  // the output limit: it passes the limit by at most one entry (a key of up
  // to 250 bytes) and its END or SERVER_ERROR line, less than any other
  // reply may by itself.
  const std::size_t max_past_limit =
      std::max({kMaxSmallReplyBytes, general.size(), settings.size()});

  const std::string& transcript = rig.transcript;  // every byte read back, in order
  std::string sent;              // every byte the client sent, in order
  std::size_t max_prepared = 0;  // the largest input space handed out at once
  // Ids the core issued; elsewhere() draws others from the same generator.
  std::uint64_t session_ids = 0;
  fuzz::SessionWatch watch;

  const auto after_process = [&] {
    watch.after_process(core, transcript.size());
    // Input: at most a line in progress (the limit plus the '\r' of its
    // "\r\n") plus what the last read could add: reads happen only while
    // wants_input(). Output: under the limit before the last reply, plus it.
    // The storage holding each is within katsubushi::service::storage_bound() of that.
    const std::size_t bound =
        katsubushi::service::storage_bound(kLimits.max_line_bytes + 1 + max_prepared) +
        katsubushi::service::storage_bound(kLimits.max_output_bytes + max_reply);
    check(core.buffered_bytes() <= bound);
    check(core.output().size() < kLimits.max_output_bytes + max_past_limit);
    if (core.wants_input()) {
      check(!core.closing() && core.output().size() < kLimits.max_output_bytes);
    }
  };

  // Every call into the core: it never sleeps (only issue_waiting(), from
  // elsewhere(), moves sleeps()), issues at most a step's ids, and a "not
  // before T" names a millisecond the clock has not reached; while a request
  // waits or has yielded, no input is wanted.
  const auto call_core = [&](auto&& call) {
    session_ids += checked_core_call(rig, proto::TextSession::kIdsPerStep, call);
    after_process();
  };
  const auto process = [&] { call_core([&] { core.process(); }); };

  // What the shell does before it reads again: a request left waiting is
  // gone on with. At "not before T" its timer fires at T or later (other
  // connections may run meanwhile); after a yield it goes on at once.
  const auto settle = [&] {
    for (std::size_t rounds = 0;; ++rounds) {
      // Each round takes a control byte or answers at least one key or line.
      check(rounds <= 2 * size + 16);
      if (const std::int64_t at = core.not_before_unix_ms(); at != 0) {
        if (auto c = in.control()) elsewhere(rig.clock, rig.generator, *c);
        if (rig.clock.now_unix_ms() < at) rig.clock.set(at);
      } else if (!core.yielded()) {
        break;
      }
      process();
    }
    // Between requests the session wants input exactly while it is open and
    // under its output limit (else the shell would neither write nor read).
    check(core.wants_input() ==
          (!core.closing() && core.output().size() < kLimits.max_output_bytes));
  };

  while (!in.empty() && !core.closing()) {
    if (core.wants_input()) {
      const std::uint8_t c = *in.control();
      const std::size_t n = c & 0x3f;
      std::string_view bytes;
      switch (c >> 6) {
        case 0:
          bytes = in.client_bytes(1 + n % 8);  // trickle
          break;
        case 1:
          bytes = in.client_bytes(1 + n);
          break;
        case 2:
          bytes = in.client_bytes(64 * (1 + n));
          break;
        case 3:
          bytes = in.client_bytes(1 + n * 4);
          break;
      }
      max_prepared = std::max(max_prepared, bytes.size());
      if (c >> 6 == 3) {
        // Written in place (prepare, commit): into a big buffer, partly filled.
        const auto space = core.prepare(1024);
        std::copy(bytes.begin(), bytes.end(), space.begin());
        core.commit(bytes.size());
        max_prepared = std::max<std::size_t>(max_prepared, 1024);
      } else if (c >> 6 != 0 && (n & 1) != 0) {
        // As the shell reads: lent, and answered at once.
        call_core([&] { lend_once(core, bytes); });
        settle();
      } else {
        core.receive(bytes);
      }
      sent.append(bytes);
    }
    if (auto c = in.control()) elsewhere(rig.clock, rig.generator, *c);
    process();
    settle();

    const std::uint8_t c = in.control().value_or(1);
    const std::size_t arg = c >> 2;
    switch (c & 3) {
      case 0:
        break;  // the client is not reading
      case 1:
        rig.read(core.output().size());
        break;
      case 2:
        rig.read(arg);
        break;
      case 3:
        rig.read(core.output().size() - std::min(arg, core.output().size()));
        break;
    }
    process();  // as the shell does after each write
    settle();
  }

  // Odd-sized inputs end with the client's half-close, as the shell reports
  // EOF: a last line without its "\n" is then answered too.
  const bool half_close = (size & 1) != 0;
  if (half_close && !core.closing()) core.end_of_input();

  // The client reads everything that is owed, as long as replies keep coming.
  for (std::size_t rounds = 0;; ++rounds) {
    check(rounds <= size + 2);  // each round answers at least one key or line
    rig.read(core.output().size());
    process();
    settle();
    if (core.output().empty()) break;
  }

  if (core.closing()) {
    // Even a shell that ignored closing() gets nothing more.
    core.receive("get k\r\nversion\r\n");
    process();
    check(core.output().empty() && !core.wants_input());
  }

  // A text session the client half-closed ends once everything is answered.
  if (half_close && core.protocol() == katsubushi::session::Protocol::text) check(core.closing());

  testing::ReplyChecker replies(transcript, testing::rig_reply_expectations(kRig), fuzz::violated);
  replies.run(core.protocol(), core.closing());
  const katsubushi::service::ProtocolCounters& counters = rig.counters;
  check(counters.get_hits.load() == replies.hits_since_reset());
  check(counters.cmd_get.load() == counters.get_hits.load() + counters.get_misses.load());
  // Every id the session issued was sent: none is lost to a wait, a slice or
  // an error midway through a get.
  check(session_ids == replies.hits());

  // Chunking, backpressure and partial reads change nothing the client sees:
  // the same bytes, one line per process() call on a clock that never moves,
  // get the same replies up to the first reply our clock moves could change.
  const OneLineAtATime ref = replay_one_line_at_a_time(sent, half_close);
  const std::string got = without_digits(transcript);
  const std::string want = without_digits(ref.transcript);
  const std::size_t clock_error = first_server_error(got);
  if (clock_error == std::string::npos) {
    check(got == want && core.closing() == ref.closing &&
          core.completed_requests() == ref.completed);
  } else {
    check(want.compare(0, clock_error, got, 0, clock_error) == 0);
  }
  return 0;
}
