// HTTP through the whole SessionCore, starting undecided as on the main
// port: sniffing, Beast's framing, the routes and every limit, with input in
// chunks the fuzzer chooses (copied, written in place or lent for one
// receive_and_process() call; only while wants_input()), a request left
// waiting gone on with first (at "not before T" the timer fires at T or
// later), a clock that steps and rewinds, other connections drawing ids, and
// output read in full, in part or not at all.
//
// Oracles: no crash or sanitizer report; buffered_bytes() under a bound from
// the limits; nothing produced once closing(); no call into the core sleeps
// or issues more than a millisecond's ids (several requests may be answered
// in one call, but on a clock that stands still during it they share one
// millisecond), and "not before T" names a millisecond still to come;
// between requests input is wanted exactly while open and under the output
// limit. When the bytes were HTTP:
// the output is a sequence of "HTTP/1.1 NNN Reason" responses with valid
// framing, one per completed request, each status one we send with its
// reason; only the last says "Connection: close", and it closes; the ids in
// the bodies are strictly increasing, carry our worker id and match both
// get_hits and the ids the session issued; and the same bytes sent whole,
// on a clock that never moves, get the same responses up to the first one
// the clock could change (a 503).
//
// Input layout (as fuzz_session's): client bytes from the front, control
// bytes (chunk sizes, clock moves, reads) from the back.
#include <algorithm>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <charconv>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "config/limits.hpp"
#include "id/issue_waiting.hpp"
#include "id/layout.hpp"
#include "proto/text_session.hpp"
#include "service/buffers.hpp"
#include "session/session.hpp"
#include "support.hpp"
#include "testing/http_wire.hpp"
#include "testing/session_rig.hpp"

namespace {

using namespace katsubushi;
using fuzz::check;
using fuzz::checked_core_call;
using fuzz::FuzzInput;
using fuzz::lend_once;
using fuzz::without_digits;
using testing::SessionRig;

constexpr katsubushi::service::SessionLimits kLimits{
    .max_line_bytes = 512, .max_output_bytes = 4096, .max_data_block_bytes = 1024};
constexpr testing::RigOptions kRig{.limits = kLimits,
                                   .generator = {.max_backward_wait_ms = 250},
                                   .worker_id = 7,
                                   .start_unix_ms = 1'704'067'200'000,  // 2024-01-01
                                   .version = "1.2.3-fuzz"};

// The largest response: /ids?n=1000 as JSON, 1000 quoted 19-digit ids and
// commas, plus headers; every other body is far smaller.
constexpr std::size_t kMaxResponseBytes = config::kHttpMaxIdsPerRequest * 22 + 512;

// Between two reads: the clock steps, stalls, rewinds or leaves the id
// range, or another connection draws ids.
void elsewhere(SessionRig& rig, std::uint8_t c) {
  const std::int64_t arg = c >> 3;
  switch (c & 7) {
    case 0:
    case 1:
      break;
    case 2:
      rig.clock.advance(1 + arg % 4);
      break;
    case 3:
      rig.clock.advance(-(1 + arg % 8));
      break;
    case 4:
      rig.clock.advance(-arg * 97);  // past the 250 ms the generator waits: 503
      break;
    case 5:
      rig.clock.set(arg == 31   ? id::kEpochUnixMs - 1
                    : arg == 30 ? id::kEpochUnixMs + id::kMaxTimestamp + 1
                                : kRig.start_unix_ms + arg);
      break;
    default: {
      std::vector<std::uint64_t> ids(static_cast<std::size_t>(arg + 1) * 150);
      katsubushi::id::issue_waiting(rig.generator, ids);
      break;
    }
  }
}

std::string_view reason_of(unsigned status) {
  static const std::map<unsigned, std::string_view> kReasons = {
      {200, "OK"},
      {400, "Bad Request"},
      {301, "Moved Permanently"},
      {404, "Not Found"},
      {405, "Method Not Allowed"},
      {413, "Payload Too Large"},
      {431, "Request Header Fields Too Large"},
      {503, "Service Unavailable"}};
  const auto it = kReasons.find(status);
  return it == kReasons.end() ? std::string_view{} : it->second;
}

std::uint64_t parse_id(std::string_view s) {
  std::uint64_t v = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  check(!s.empty() && ec == std::errc() && end == s.data() + s.size());
  check(s.size() == 1 || s.front() != '0');
  return v;
}

// The ids in the body of a 200 from /id or /ids, text or JSON.
std::vector<std::uint64_t> ids_in(const testing::ParsedResponse& r) {
  std::vector<std::uint64_t> ids;
  if (r.status != 200 || r.head) return ids;
  const auto type = r.header("Content-Type");
  if (type == "application/json" && r.body.starts_with("{\"id")) {
    boost::system::error_code ec;
    const auto v = boost::json::parse(r.body, ec);
    check(!ec && v.is_object());
    const auto& o = v.as_object();
    if (const auto* one = o.if_contains("id")) {
      ids.push_back(parse_id(one->as_string()));
    } else {
      for (const auto& e : o.at("ids").as_array()) ids.push_back(parse_id(e.as_string()));
    }
  } else if (type == "text/plain" && !r.body.empty() && r.body.front() >= '0' &&
             r.body.front() <= '9') {
    std::string_view rest = r.body;
    for (;;) {
      const std::size_t nl = rest.find('\n');
      ids.push_back(parse_id(rest.substr(0, nl)));
      if (nl == std::string_view::npos) break;
      rest.remove_prefix(nl + 1);
    }
  }
  return ids;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  FuzzInput in(data, size);
  SessionRig rig(kRig);
  katsubushi::session::SessionCore& core = rig.core;

  std::string sent;
  std::size_t max_read = 0;
  // Ids the core issued; elsewhere() draws others from the same generator.
  std::uint64_t session_ids = 0;
  fuzz::SessionWatch watch;
  bool clock_moved = false;

  const auto after_process = [&] {
    watch.after_process(core, rig.transcript.size());
    // Input: a sniffing line or one window of Beast's, plus the last read.
    // Output: under the limit before the last response, plus that response.
    // The storage holding each is within katsubushi::service::storage_bound() of that.
    const std::size_t max_unsent = kLimits.max_output_bytes + kMaxResponseBytes;
    const std::size_t bound =
        katsubushi::service::storage_bound(std::max(kLimits.max_line_bytes, config::kHttpMaxHeaderBytes) + 1 +
                             max_read) +
        katsubushi::service::storage_bound(max_unsent);
    check(core.output().size() <= max_unsent);
    check(core.buffered_bytes() <= bound);
    if (core.wants_input()) {
      check(!core.closing() && core.output().size() < kLimits.max_output_bytes);
    }
  };

  // Every call into the core: it never sleeps (only issue_waiting(), from
  // elsewhere(), moves sleeps()); what it issues is bounded by the output
  // limit and, the clock standing still meanwhile, by one millisecond's ids
  // (kIdsPerStep); a "not before T" names a millisecond the clock has not
  // reached, with no input wanted meanwhile.
  const auto call_core = [&](auto&& call) {
    session_ids += checked_core_call(rig, proto::TextSession::kIdsPerStep, call);
    check(!core.yielded() || core.protocol() == katsubushi::session::Protocol::text);
    after_process();
  };
  const auto process = [&] { call_core([&] { core.process(); }); };

  // What the shell does before it reads again: a request left waiting is
  // gone on with when its timer fires, at T or later (other connections may
  // run meanwhile); after a yield (text only) at once.
  const auto settle = [&] {
    for (std::size_t rounds = 0;; ++rounds) {
      // Each round takes a control byte or answers at least one request.
      check(rounds <= 2 * size + 16);
      if (const std::int64_t at = core.not_before_unix_ms(); at != 0) {
        if (auto c = in.control()) {
          clock_moved = clock_moved || (*c & 7) > 1;
          elsewhere(rig, *c);
        }
        if (rig.clock.now_unix_ms() < at) rig.clock.set(at);
      } else if (!core.yielded()) {
        break;
      }
      process();
    }
    // Between requests input is wanted exactly while open and under the
    // output limit.
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
          bytes = in.client_bytes(1 + n % 4);
          break;
        case 1:
          bytes = in.client_bytes(1 + n);
          break;
        case 2:
          bytes = in.client_bytes(256 * (1 + n));
          break;
        default:
          bytes = in.client_bytes(1 + n * 16);
          break;
      }
      max_read = std::max(max_read, bytes.size() + 16);
      if ((c >> 6) == 2 && (n & 1) != 0) {
        // As the shell reads: lent, and answered at once.
        call_core([&] { lend_once(core, bytes); });
        settle();
      } else {
        rig.receive(bytes, (c >> 6) == 3 ? testing::Input::zero_copy : testing::Input::copy);
      }
      sent.append(bytes);
    }
    if (auto c = in.control()) {
      clock_moved = clock_moved || (*c & 7) > 1;
      elsewhere(rig, *c);
    }
    process();
    settle();

    const std::uint8_t c = in.control().value_or(1);
    switch (c & 3) {
      case 0:
        break;  // the client is not reading
      case 1:
        rig.drain();
        break;
      default:
        rig.read(static_cast<std::size_t>(c >> 2) * 64);
        break;
    }
    process();  // as the shell does after each write
    settle();
  }
  for (std::size_t rounds = 0;; ++rounds) {
    check(rounds <= size + 2);
    rig.drain();
    process();
    settle();
    if (core.output().empty()) break;
  }
  if (core.closing()) {
    core.receive("GET /id HTTP/1.1\r\n\r\n");
    process();
    check(core.output().empty() && !core.wants_input());
  }
  if (core.protocol() != katsubushi::session::Protocol::http) return 0;  // fuzz_session's ground

  const auto stream = testing::parse_responses(rig.transcript, {}, true);
  check(stream.error.empty());
  const auto& responses = stream.responses;
  check(responses.size() == core.completed_requests());
  std::uint64_t last_id = 0;
  std::uint64_t ids_seen = 0;
  for (std::size_t i = 0; i < responses.size(); ++i) {
    const auto& r = responses[i];
    check(reason_of(r.status) == r.reason);
    const bool is_last = i + 1 == responses.size();
    check(r.closes() == (is_last && core.closing()));
    for (const std::uint64_t v : ids_in(r)) {
      check((v >> 63) == 0 && id::decode(v).worker_id == kRig.worker_id);
      check(ids_seen == 0 || v > last_id);
      last_id = v;
      ++ids_seen;
    }
  }
  check(ids_seen == rig.counters.get_hits.load());
  check(ids_seen == session_ids);  // every id the session issued was sent
  check(rig.counters.cmd_get.load() ==
        rig.counters.get_hits.load() + rig.counters.get_misses.load());

  // However the bytes were cut, read or held back, the same requests get the
  // same answers: the whole input at once, on a clock that stands still.
  SessionRig whole(kRig);
  whole.feed_all(sent);
  check(whole.clock.sleeps() == 0);  // the rig waits by moving the clock
  if (!clock_moved) {
    check(without_digits(rig.transcript) == without_digits(whole.transcript) &&
          whole.core.closing() == core.closing() &&
          whole.core.completed_requests() == core.completed_requests());
  } else {
    // Response by response, up to the first one a moved clock could change.
    const auto reference = testing::parse_responses(whole.transcript, {}, true);
    check(reference.error.empty());
    for (std::size_t i = 0; i < responses.size() && responses[i].status != 503; ++i) {
      check(i < reference.responses.size());
      const auto& a = responses[i];
      const auto& b = reference.responses[i];
      check(a.status == b.status && a.head == b.head && a.headers.size() == b.headers.size() &&
            without_digits(a.body) == without_digits(b.body));
      for (std::size_t h = 0; h < a.headers.size(); ++h) {
        check(a.headers[h].first == b.headers[h].first &&
              without_digits(a.headers[h].second) == without_digits(b.headers[h].second));
      }
    }
  }
  return 0;
}
