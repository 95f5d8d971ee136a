#include "conform/runner.hpp"

#include <chrono>
#include <utility>

#include "conform/pattern_match.hpp"

namespace katsubushi::conform {

namespace {

using Clock = std::chrono::steady_clock;

// A Stat reply longer than this is a FAIL, not an endless read.
constexpr int kMaxStatPackets = 10000;
constexpr std::uint32_t kKeepOpaque = 0x6b656570;  // "keep"

std::string step_name(Step::Kind kind) {
  switch (kind) {
    case Step::Kind::send:
      return "send";
    case Step::Kind::expect:
      return "expect";
    case Step::Kind::expect_bin:
      return "expect-bin";
    case Step::Kind::expect_bin_stats:
      return "expect-bin-stats";
    case Step::Kind::expect_http:
      return "expect-http";
    case Step::Kind::close:
      return "close";
    case Step::Kind::keep:
      return "keep";
  }
  return "step";
}

class CaseRun {
 public:
  CaseRun(const Case& c, Transport& transport, const RunOptions& options)
      : case_(c), transport_(transport), options_(options) {}

  // Runs the case's steps; false with `reason_` set on the first failure.
  bool run() {
    const std::vector<Step>& steps = case_.steps;
    for (std::size_t i = 0; i < steps.size(); ++i) {
      const Step& step = steps[i];
      const std::string where = "line " + std::to_string(step.line);
      if (step.kind == Step::Kind::keep) {
        for (const Step& probe : keep_probe(case_.protocol)) {
          if (!perform(probe, probe.bytes, where + " (keep)")) return false;
        }
        continue;
      }
      // Consecutive sends go out as one write: a pipeline.
      std::string bytes = step.bytes;
      while (step.kind == Step::Kind::send && i + 1 < steps.size() &&
             steps[i + 1].kind == Step::Kind::send) {
        bytes += steps[++i].bytes;
      }
      if (!perform(step, bytes, where)) return false;
    }
    return true;
  }

  // After the last step: nothing may be left over.
  bool finish() {
    if (in_.empty()) return true;
    context_ = "after the last step";
    return fail("unexpected bytes: \"" + printable(in_) + "\"");
  }

  const std::string& reason() const { return reason_; }

 private:
  // One step other than keep; `bytes` is what a send sends.
  bool perform(const Step& step, const std::string& bytes, const std::string& where) {
    context_ = where + " (" + step_name(step.kind) + ")";
    switch (step.kind) {
      case Step::Kind::send:
        return send(bytes);
      case Step::Kind::expect:
        return expect(step.pattern);
      case Step::Kind::expect_bin:
        return expect_packet(step.packet);
      case Step::Kind::expect_bin_stats:
        return expect_stats(step.stats);
      case Step::Kind::expect_http:
        return expect_http(step.http);
      case Step::Kind::close:
        return expect_close();
      case Step::Kind::keep:
        break;  // expanded by run()
    }
    return false;
  }

  bool fail(std::string why) {
    reason_ = context_ + ": " + std::move(why);
    return false;
  }

  void trace(std::string_view direction, std::string_view bytes) const {
    if (options_.trace != nullptr) {
      *options_.trace << "  " << direction << " \"" << printable(bytes, 4096) << "\"\n";
    }
  }

  bool send(const std::string& bytes) {
    trace(">", bytes);
    std::string error;
    bool peer_closed = false;
    if (transport_.send(bytes, options_.timeout, error, peer_closed)) return true;
    // A server may answer and close before it has read all a case sends
    // (an over-long line); what it answered is still to be checked.
    if (peer_closed) {
      trace("!", "send: the server closed: " + error);
      return true;
    }
    return fail(error);
  }

  // One read into in_ before `deadline`. False with the failure set when
  // nothing more can come; `what` says what was being waited for.
  bool fill(Clock::time_point deadline, const std::string& what) {
    if (closed_) return fail("the server closed the connection; " + what);
    const auto left = std::chrono::duration_cast<Millis>(deadline - Clock::now());
    if (left.count() <= 0) return timed_out(what);
    std::string error;
    const std::size_t before = in_.size();
    switch (transport_.recv(in_, left, error)) {
      case RecvStatus::data:
        trace("<", std::string_view(in_).substr(before));
        return true;
      case RecvStatus::closed:
        closed_ = true;
        trace("<", error.empty() ? "(closed)" : "(closed: " + error + ")");
        return fail("the server closed the connection; " + what);
      case RecvStatus::timeout:
        return timed_out(what);
      case RecvStatus::error:
        return fail(error + "; " + what);
    }
    return false;
  }

  bool timed_out(const std::string& what) {
    return fail("nothing more within " + std::to_string(options_.timeout.count()) + " ms; " + what);
  }

  // Ids increase within a case: per process, a katsubushi never issues a
  // smaller or equal id after a larger one.
  bool check_ids(const std::vector<std::uint64_t>& ids) {
    for (const std::uint64_t id : ids) {
      if (have_id_ && id <= last_id_) {
        return fail("the id " + std::to_string(id) + " does not increase on " +
                    std::to_string(last_id_));
      }
      have_id_ = true;
      last_id_ = id;
    }
    return true;
  }

  Clock::time_point deadline() const { return Clock::now() + options_.timeout; }

  bool expect(const Pattern& pattern) {
    const auto until = deadline();
    for (;;) {
      const MatchResult m = match_pattern(pattern, in_, false);
      switch (m.status) {
        case MatchStatus::matched:
          in_.erase(0, m.consumed);
          return check_ids(m.ids);
        case MatchStatus::mismatch:
          return fail("at byte " + std::to_string(m.at) + " of the reply: " + m.detail);
        case MatchStatus::need_more:
          if (!fill(until, "the reply so far: \"" + printable(in_) + "\"")) return false;
          break;
      }
    }
  }

  // The next whole reply packet, read within `until`.
  bool next_packet(Packet& packet, Clock::time_point until) {
    for (;;) {
      std::size_t used = 0;
      std::string error;
      switch (frame_packet(in_, packet, used, error)) {
        case FrameStatus::packet:
          in_.erase(0, used);
          return true;
        case FrameStatus::malformed:
          return fail(error);
        case FrameStatus::need_more:
          if (!fill(until, "a reply packet so far: \"" + printable(in_) + "\"")) return false;
          break;
      }
    }
  }

  bool expect_packet(const PacketExpectation& want) {
    Packet packet;
    if (!next_packet(packet, deadline())) return false;
    std::vector<std::uint64_t> ids;
    std::string error;
    if (!check_packet(want, packet, ids, error)) {
      return fail(error + " (got " + describe_packet(packet) + ")");
    }
    return check_ids(ids);
  }

  bool expect_stats(const StatsExpectation& want) {
    const auto until = deadline();
    for (int n = 0; n < kMaxStatPackets; ++n) {
      Packet packet;
      if (!next_packet(packet, until)) return false;
      const PacketHeader& h = packet.header;
      const std::string got = " (got " + describe_packet(packet) + ")";
      if (h.opcode != 0x10 || h.status != 0) return fail("not a Stat reply" + got);
      if (want.opaque && h.opaque != *want.opaque) return fail("opaque not echoed" + got);
      if (h.keylen == 0) {
        if (h.bodylen != 0) return fail("the terminator has a body" + got);
        if (static_cast<std::size_t>(n) < want.first.size()) {
          return fail("the stats end before \"" + want.first[static_cast<std::size_t>(n)] + "\"");
        }
        return true;
      }
      if (static_cast<std::size_t>(n) < want.first.size() &&
          packet.key != want.first[static_cast<std::size_t>(n)]) {
        return fail("stat " + std::to_string(n + 1) + " is \"" + printable(packet.key) +
                    "\", expected \"" + want.first[static_cast<std::size_t>(n)] + "\"");
      }
    }
    return fail("more than " + std::to_string(kMaxStatPackets) + " Stat packets");
  }

  bool expect_http(const HttpExpectation& want) {
    const auto until = deadline();
    for (;;) {
      HttpResponse response;
      std::size_t used = 0;
      std::string error;
      switch (frame_http_response(in_, closed_, response, used, error)) {
        case HttpFrame::complete: {
          in_.erase(0, used);
          std::vector<std::uint64_t> ids;
          if (!check_http(want, response, ids, error)) return fail(error);
          return check_ids(ids);
        }
        case HttpFrame::malformed:
          return fail(error);
        case HttpFrame::need_more:
        case HttpFrame::need_eof:
          if (closed_) return fail("the server closed mid-response: \"" + printable(in_) + "\"");
          if (!fill_allowing_close(until)) return false;
          break;
      }
    }
  }

  // fill() for a body that may run to the close: a close is not a failure.
  bool fill_allowing_close(Clock::time_point until) {
    const auto left = std::chrono::duration_cast<Millis>(until - Clock::now());
    if (left.count() <= 0) return timed_out("the response so far: \"" + printable(in_) + "\"");
    std::string error;
    const std::size_t before = in_.size();
    switch (transport_.recv(in_, left, error)) {
      case RecvStatus::data:
        trace("<", std::string_view(in_).substr(before));
        return true;
      case RecvStatus::closed:
        trace("<", "(closed)");
        closed_ = true;
        return true;
      case RecvStatus::timeout:
        return timed_out("the response so far: \"" + printable(in_) + "\"");
      case RecvStatus::error:
        return fail(error);
    }
    return false;
  }

  bool expect_close() {
    if (!in_.empty()) return fail("bytes instead of the close: \"" + printable(in_) + "\"");
    if (closed_) return true;
    std::string error;
    switch (transport_.recv(in_, options_.timeout, error)) {
      case RecvStatus::closed:
        trace("<", "(closed)");
        closed_ = true;
        return true;
      case RecvStatus::data:
        trace("<", in_);
        return fail("bytes instead of the close: \"" + printable(in_) + "\"");
      case RecvStatus::timeout:
        return fail("still open after " + std::to_string(options_.timeout.count()) + " ms");
      case RecvStatus::error:
        return fail(error);
    }
    return false;
  }

  const Case& case_;
  Transport& transport_;
  const RunOptions& options_;
  std::string in_;  // received, not yet matched
  bool closed_ = false;
  bool have_id_ = false;
  std::uint64_t last_id_ = 0;
  std::string context_;
  std::string reason_;
};

}  // namespace

std::vector<Step> keep_probe(Protocol protocol) {
  std::vector<Step> steps(2);
  steps[0].kind = Step::Kind::send;
  std::string error;
  switch (protocol) {
    case Protocol::text:
    case Protocol::meta:
      steps[0].bytes = "version\r\n";
      steps[1].kind = Step::Kind::expect;
      parse_pattern("VERSION {any}\\r\\n", steps[1].pattern, error);
      break;
    case Protocol::binary: {
      RequestSpec noop;
      noop.header.opcode = 0x0a;
      noop.header.opaque = kKeepOpaque;
      steps[0].bytes = encode_request(noop);
      steps[1].kind = Step::Kind::expect_bin;
      PacketExpectation& p = steps[1].packet;
      p.opcode = 0x0a;
      p.status = 0;
      p.opaque = kKeepOpaque;
      p.extras.emplace();
      p.key.emplace();
      p.value.emplace();
      break;
    }
    case Protocol::http:
      steps[0].bytes = "GET /healthz HTTP/1.1\r\nHost: conform\r\n\r\n";
      steps[1].kind = Step::Kind::expect_http;
      steps[1].http.status = 0;  // any: the connection answering is the point
      break;
  }
  return steps;
}

CaseResult run_case(const Case& c, const Connect& connect, const RunOptions& options) {
  if (!c.skip.empty()) return {Verdict::skip, c.skip};
  std::string error;
  const std::unique_ptr<Transport> transport = connect(error);
  if (transport == nullptr) return {Verdict::fail, "connect: " + error};
  CaseRun run(c, *transport, options);
  if (!run.run() || !run.finish()) return {Verdict::fail, run.reason()};
  return {Verdict::pass, {}};
}

std::string_view verdict_name(Verdict verdict) {
  switch (verdict) {
    case Verdict::pass:
      return "PASS";
    case Verdict::fail:
      return "FAIL";
    case Verdict::skip:
      return "SKIP";
  }
  return "?";
}

}  // namespace katsubushi::conform
