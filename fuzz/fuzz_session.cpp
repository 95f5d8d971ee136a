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
// our worker id, and equal their cas; every id the session issues is sent;
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
#include <charconv>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "id/generator.hpp"
#include "id/issue_waiting.hpp"
#include "id/layout.hpp"
#include "id/manual_clock.hpp"
#include "service/buffers.hpp"
#include "proto/meta_base64.hpp"
#include "proto/meta_command.hpp"
#include "session/session.hpp"
#include "session/sniff.hpp"
#include "service/stats.hpp"
#include "proto/text_session.hpp"
#include "support.hpp"
#include "testing/session_rig.hpp"
#include "testing/wire.hpp"

namespace {

using namespace katsubushi;
using fuzz::check;
using fuzz::checked_core_call;
using fuzz::lend_once;
using fuzz::FuzzInput;
using fuzz::without_digits;
using testing::SessionRig;

// A line of 256 bytes holds up to 126 keys: gets of more than 120 are
// refused, and 117 one-byte keys already answer more than the output limit.
constexpr katsubushi::service::SessionLimits kLimits{.max_line_bytes = 256,
                                       .max_output_bytes = 4096,
                                       .max_data_block_bytes = 1024,
                                       .max_keys_per_get = 120};
constexpr std::string_view kVersion = "1.2.3-fuzz";
constexpr testing::RigOptions kRig{
    .limits = kLimits,
    .generator = {.max_backward_wait_ms = 250},
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

std::uint64_t parse_decimal(std::string_view s) {
  std::uint64_t v = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  check(!s.empty() && ec == std::errc() && end == s.data() + s.size());
  check(s.size() == 1 || s.front() != '0');  // written by to_chars: no leading zeros
  return v;
}

std::vector<std::string_view> split(std::string_view s) {
  std::vector<std::string_view> out;
  for (std::size_t start = 0;;) {
    const std::size_t sp = s.find(' ', start);
    out.push_back(s.substr(start, sp - start));
    if (sp == std::string_view::npos) return out;
    start = sp + 1;
  }
}

// The STAT blocks `stats slabs` and `stats sizes` answer, whole.
constexpr std::string_view kSlabsReply = "STAT active_slabs 0\r\nSTAT total_malloced 0\r\nEND\r\n";
constexpr std::string_view kSizesReply = "STAT sizes_status disabled\r\nEND\r\n";

// Walks everything the session wrote, reply by reply.
class ReplyChecker {
 public:
  ReplyChecker(std::string_view transcript, std::string general, std::string settings)
      : s_(transcript), general_(std::move(general)), settings_(std::move(settings)) {}

  void run(katsubushi::session::Protocol protocol, bool closing) {
    if (protocol == katsubushi::session::Protocol::http) {
      check_http(closing);
      return;
    }
    if (protocol != katsubushi::session::Protocol::text) check(s_.empty());
    while (pos_ < s_.size()) one_reply(closing);
  }

  // Keys answered with an id (VALUE lines, VA and HD replies), in all and
  // since the last RESET.
  std::size_t hits() const { return hits_; }
  std::size_t hits_since_reset() const { return hits_since_reset_; }

 private:
  std::string_view line() {
    const std::size_t end = s_.find("\r\n", pos_);
    check(end != std::string_view::npos);
    const std::string_view l = s_.substr(pos_, end - pos_);
    pos_ = end + 2;
    return l;
  }

  void one_reply(bool closing) {
    const std::string_view rest = s_.substr(pos_);
    if (rest.starts_with("STAT ")) {
      for (const std::string_view block :
           {std::string_view(general_), std::string_view(settings_), kSlabsReply, kSizesReply}) {
        if (rest.starts_with(block)) {
          pos_ += block.size();
          return;
        }
      }
      check(false);  // a STAT block this server does not send
    }
    const std::string_view l = line();
    // END alone: stats items/conns, stats detail dump, stats cachedump.
    if (l == "ERROR" || l == "OK" || l == "END" || l == "MN" ||
        l == std::string("VERSION ") + std::string(kVersion)) {
      return;
    }
    if (l == "RESET") {
      hits_since_reset_ = 0;
      return;
    }
    if (l.starts_with("VALUE ")) {
      values(l);
      return;
    }
    if (l.starts_with("VA ") || l == "HD" || l.starts_with("HD ")) {
      meta_get(l);
      return;
    }
    for (std::string_view prefix : {"CLIENT_ERROR ", "SERVER_ERROR "}) {
      if (!l.starts_with(prefix)) continue;
      const std::string_view msg = error_message(l, prefix);
      // These two end the connection: nothing may follow them.
      if (msg == "line too long" || msg == "data block too large") {
        check(closing && pos_ == s_.size());
      }
      return;
    }
    check(false);  // not a reply this server sends
  }

  // A printable reason after the prefix.
  static std::string_view error_message(std::string_view l, std::string_view prefix) {
    const std::string_view msg = l.substr(prefix.size());
    check(!msg.empty());
    for (char c : msg) check(c >= 0x20 && c < 0x7f);
    return msg;
  }

  // VALUE <key> 0 <len>[ <cas>]\r\n<len digits>\r\n ... END\r\n, or
  // SERVER_ERROR <reason>\r\n instead of END when the generator failed
  // after some slices: the VALUEs already sent stand.
  void values(std::string_view first) {
    std::optional<bool> with_cas;
    for (std::string_view l = first; l != "END"; l = line()) {
      if (l.starts_with("SERVER_ERROR ")) {
        error_message(l, "SERVER_ERROR ");
        return;
      }
      const auto t = split(l);
      check((t.size() == 4 || t.size() == 5) && t[0] == "VALUE" && t[2] == "0");
      check(proto::valid_key(t[1]));
      // One reply is either all get (no cas) or all gets.
      check(!with_cas || *with_cas == (t.size() == 5));
      with_cas = t.size() == 5;
      const std::uint64_t len = parse_decimal(t[3]);
      check(len >= 1 && len <= 19 && s_.size() - pos_ >= len + 2);
      const std::uint64_t id = parse_decimal(s_.substr(pos_, len));
      pos_ += len;
      check(line().empty());
      if (*with_cas) check(parse_decimal(t[4]) == id);
      saw_id(id);
      hit();
    }
  }

  void hit() {
    ++hits_;
    ++hits_since_reset_;
  }

  void saw_id(std::uint64_t id) {
    check((id >> 63) == 0 && id::decode(id).worker_id == kRig.worker_id);
    check(!seen_id_ || id > last_id_);
    last_id_ = id;
    seen_id_ = true;
  }

  // VA <len> <flags>*\r\n<id>\r\n or HD <flags>*\r\n: each return flag at
  // most once; k<key> (then b if it is base64), O<opaque>, c<id>, f0,
  // s<len>, t-1; c and s agree with the id.
  void meta_get(std::string_view first) {
    const auto t = split(first);
    const bool with_value = t[0] == "VA";
    std::size_t i = 1;
    std::uint64_t len = 0;
    if (with_value) {
      check(t.size() >= 2);
      len = parse_decimal(t[1]);
      check(len >= 1 && len <= 19);
      i = 2;
    }
    std::optional<std::uint64_t> cas;
    std::optional<std::uint64_t> size;
    std::string seen;
    for (; i < t.size(); ++i) {
      const std::string_view flag = t[i];
      check(!flag.empty() && seen.find(flag[0]) == std::string::npos);
      seen += flag[0];
      const std::string_view arg = flag.substr(1);
      switch (flag[0]) {
        case 'k':
          if (i + 1 < t.size() && t[i + 1] == "b") {
            const auto decoded = proto::base64_decode(arg);
            check(decoded && !decoded->empty() && arg.size() <= proto::kMaxKeyBytes);
            ++i;
          } else {
            check(proto::valid_key(arg));
          }
          break;
        case 'O':
          check(arg.size() <= proto::kMaxOpaqueBytes);
          for (const char c : arg) check(static_cast<unsigned char>(c) > 0x20 && c != 0x7f);
          break;
        case 'c':
          cas = parse_decimal(arg);
          break;
        case 'f':
          check(arg == "0");
          break;
        case 's':
          size = parse_decimal(arg);
          break;
        case 't':
          check(arg == "-1");
          break;
        default:
          check(false);
      }
    }
    hit();
    if (with_value) {
      check(s_.size() - pos_ >= len + 2);
      const std::uint64_t id = parse_decimal(s_.substr(pos_, len));
      pos_ += len;
      check(line().empty());
      check(!cas || *cas == id);
      check(!size || *size == len);
      saw_id(id);
    } else if (cas) {
      check(!size || *size == std::to_string(*cas).size());
      saw_id(*cas);
    }
  }

  // The one HTTP reply: status line, headers, a body of Content-Length bytes,
  // then the connection closes.
  void check_http(bool closing) {
    check(closing);
    check(line().starts_with("HTTP/1.1 "));
    std::optional<std::uint64_t> content_length;
    bool connection_close = false;
    for (std::string_view h = line(); !h.empty(); h = line()) {
      const std::size_t colon = h.find(": ");
      check(colon != std::string_view::npos && colon > 0);
      if (h.substr(0, colon) == "Content-Length") content_length = parse_decimal(h.substr(colon + 2));
      if (h == "Connection: close") connection_close = true;
    }
    check(content_length.has_value() && connection_close);
    check(s_.size() - pos_ == *content_length);
  }

  std::string_view s_;
  std::size_t pos_ = 0;
  std::string general_;
  std::string settings_;
  std::uint64_t last_id_ = 0;
  bool seen_id_ = false;
  std::size_t hits_ = 0;
  std::size_t hits_since_reset_ = 0;
};

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
// stalls or jumps, and other connections draw ids from the shared generator.
void elsewhere(id::ManualClock& clock, id::IdGenerator& generator, std::uint8_t c) {
  const std::int64_t arg = c >> 3;  // 0..31
  switch (c & 7) {
    case 0:
    case 1:
      break;  // stall
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

  ReplyChecker replies(transcript, general, settings);
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
