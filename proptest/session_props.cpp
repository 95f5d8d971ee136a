// Properties of SessionCore: however the bytes of a conversation are cut into
// reads, the session answers exactly what it answers to the conversation in
// one piece, and that is the reply each request is owed. Invalid lines get
// their documented error and never consume an id. Every session is driven as
// the Asio shell drives it, and every call into it is bounded work that never
// sleeps (feed_as_the_shell).
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <algorithm>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "id/generator.hpp"
#include "id/layout.hpp"
#include "proto/text_session.hpp"
#include "testing/reply_oracles.hpp"
#include "testing/session_rig.hpp"
#include "text_requests.hpp"

namespace katsubushi::proptest {
namespace {

using proto::TextCommandKind;
using testing::Input;
using testing::SessionRig;

// Every session here is built from these; twins built alike issue the same
// ids to the same requests.
constexpr testing::RigOptions kRig{
    .worker_id = 7, .start_unix_ms = id::kEpochUnixMs + 300'000'000'000, .version = kPropVersion};

// A violated reply oracle fails the property with its reason.
[[noreturn]] void oracle_violated(const std::string& why) { throw std::logic_error(why); }

struct Expected {
  std::string output;
  std::uint64_t ids = 0;        // keys answered with an id
  std::uint64_t counted = 0;    // of those, the ones after the last `stats reset`
  std::uint64_t completed = 0;  // requests the session counts as complete
  bool quits = false;
};

// Receives `bytes` and answers everything, as the Asio shell does: after each
// process() a request left waiting is gone on with (the rig's clock jumps to
// "not before T"; after a yield, at once), output is written, and nothing
// more is read until the session wants it. Every call into the core is
// checked: nothing sleeps, at most a step's ids are issued, and "not before
// T" names a millisecond the clock has not reached, with no input wanted
// meanwhile.
void feed_as_the_shell(SessionRig& rig, std::string_view bytes, Input how = Input::copy) {
  rig.receive(bytes, how);
  for (;;) {
    const std::uint64_t ids = rig.generator.counters().ids_issued;
    rig.core.process();
    RC_ASSERT(rig.clock.sleeps() == 0);
    RC_ASSERT(rig.generator.counters().ids_issued - ids <= proto::TextSession::kIdsPerStep);
    if (const std::int64_t at = rig.core.not_before_unix_ms(); at != 0) {
      RC_ASSERT(at > rig.clock.now_unix_ms());
      RC_ASSERT(!rig.core.wants_input());
    }
    if (rig.core.yielded()) RC_ASSERT(!rig.core.wants_input());
    const bool waited = rig.wait_as_the_shell();
    if (!waited && rig.core.output().empty()) break;
    rig.drain();
  }
  // All answered: the session wants more unless it is closing.
  RC_ASSERT(rig.core.wants_input() == !rig.core.closing());
}

Expected expect_conversation(const std::vector<TextRequest>& requests) {
  Expected e;
  SessionRig twin(kRig);
  for (const TextRequest& r : requests) {
    append_expected_reply(r, twin.generator, twin.stats, e.output);
    e.ids += ids_asked(r);
    e.counted = resets_counters(r) ? 0 : e.counted + ids_asked(r);
    ++e.completed;  // every whole line is a request, an empty one included
    if (r.kind == TextCommandKind::quit) e.quits = true;
  }
  RC_ASSERT(twin.generator.counters().ids_issued == e.ids);
  return e;
}

// Feeds `wire` whole to one session and cut at random offsets to another
// (sometimes a byte at a time), and checks both against what is owed.
void check_any_chunking(const std::string& wire, const Expected& want) {
  SessionRig whole(kRig);
  feed_as_the_shell(whole, wire);

  SessionRig pieces(kRig);
  const bool bytewise = wire.size() <= 4096 && *rc::gen::inRange(0, 4) == 0;
  std::vector<std::size_t> cuts;
  if (bytewise) {
    for (std::size_t i = 1; i < wire.size(); ++i) cuts.push_back(i);
  } else {
    cuts = *rc::gen::container<std::vector<std::size_t>>(
        rc::gen::inRange<std::size_t>(0, wire.size() + 1));
    std::sort(cuts.begin(), cuts.end());
  }
  cuts.push_back(wire.size());
  const auto zero_copy = *rc::gen::container<std::vector<bool>>(rc::gen::arbitrary<bool>());
  std::size_t from = 0;
  for (std::size_t i = 0; i < cuts.size(); ++i) {
    const bool zc = !zero_copy.empty() && zero_copy[i % zero_copy.size()];
    feed_as_the_shell(pieces, std::string_view(wire).substr(from, cuts[i] - from),
                      zc ? Input::zero_copy : Input::copy);
    from = cuts[i];
  }

  for (const SessionRig* rig : {&whole, &pieces}) {
    RC_ASSERT(rig->transcript == want.output);
    RC_ASSERT(rig->core.closing() == want.quits);
    RC_ASSERT(rig->core.completed_requests() == want.completed);
    RC_ASSERT(rig->generator.counters().ids_issued == want.ids);
    RC_ASSERT(rig->counters.cmd_get.load() == want.counted);
    RC_ASSERT(rig->counters.get_hits.load() == want.counted);
    RC_ASSERT(rig->counters.get_misses.load() == 0u);
    RC_ASSERT(rig->core.protocol() ==
              (wire.empty() ? katsubushi::session::Protocol::undecided : katsubushi::session::Protocol::text));
    // The fuzzers' oracles agree: well-formed replies, one id per hit.
    testing::ReplyChecker replies(rig->transcript, testing::rig_reply_expectations(kRig),
                                  oracle_violated);
    replies.run(rig->core.protocol(), rig->core.closing());
    RC_ASSERT(replies.hits() == want.ids);
    RC_ASSERT(replies.hits_since_reset() == want.counted);
  }
  RC_TAG(bytewise ? "byte at a time" : "random cuts");
  RC_TAG(whole.not_before_waits > 0 ? "waited for a millisecond" : "no wait");
}

RC_GTEST_PROP(SessionProperties, AnyChunkingGivesTheSameReplies, ()) {
  const auto requests = *valid_conversation();
  check_any_chunking(render_all(requests), expect_conversation(requests));
}

// Invalid lines among valid requests: each gets ERROR or CLIENT_ERROR, the
// connection stays open, and only the valid gets' keys consume ids. The
// conversation opens with `version` so its first line settles the protocol
// as text (a random first line could look like HTTP or binary).
RC_GTEST_PROP(SessionProperties, InvalidLinesGetErrorsAndConsumeNoIds, ()) {
  std::vector<TextRequest> requests = *rc::gen::container<std::vector<TextRequest>>(
      rc::gen::weightedOneOf<TextRequest>({{2, invalid_request()}, {1, valid_request()}}));
  TextRequest opening;
  opening.kind = TextCommandKind::version;
  opening.tokens = {"version"};
  requests.insert(requests.begin(), opening);

  check_any_chunking(render_all(requests), expect_conversation(requests));
}

// The same, one invalid line at a time: the generator's counters do not move.
RC_GTEST_PROP(SessionProperties, InvalidLineLeavesGeneratorCountersAlone, ()) {
  const auto bad = *invalid_request();
  SessionRig rig(kRig);
  feed_as_the_shell(rig, "version\r\n");
  feed_as_the_shell(rig, "get warmup\r\n");
  const id::GeneratorCounters before = rig.generator.counters();
  const std::string output_before = rig.transcript;

  std::string wire;
  render(bad, wire);
  feed_as_the_shell(rig, wire);

  const id::GeneratorCounters after = rig.generator.counters();
  RC_ASSERT(after.ids_issued == before.ids_issued);
  RC_ASSERT(after.errors == before.errors);
  RC_ASSERT(after.sequence_waits == before.sequence_waits);
  RC_ASSERT(after.clock_waits == before.clock_waits);
  RC_ASSERT(rig.generator.last_timestamp_ms() == kRig.start_unix_ms - id::kEpochUnixMs);
  const std::string reply = rig.transcript.substr(output_before.size());
  RC_ASSERT(reply == error_reply(bad));
  RC_ASSERT(!rig.core.closing());
}

// More meta gets pipelined than one step issues (an mg without flags is
// answered "HD", so the output limit does not stop them first): process()
// yields after a step's ids, the rest are answered on later calls, and
// nothing more is read meanwhile.
RC_GTEST_PROP(SessionProperties, ManyMetaGetsYieldAStepAtATime, ()) {
  const auto n = *rc::gen::inRange<std::size_t>(proto::TextSession::kIdsPerStep + 1,
                                                 3 * proto::TextSession::kIdsPerStep);
  std::string wire;
  std::string want;
  for (std::size_t i = 0; i < n; ++i) {
    wire += "mg k" + std::to_string(i % 10) + "\r\n";
    want += "HD\r\n";
  }
  SessionRig rig(kRig);
  feed_as_the_shell(rig, wire);
  RC_ASSERT(rig.transcript == want);
  RC_ASSERT(rig.yields >= 1u);
  RC_ASSERT(rig.generator.counters().ids_issued == n);
  RC_ASSERT(rig.core.completed_requests() == n);
  RC_ASSERT(rig.counters.get_hits.load() == n);
}

}  // namespace
}  // namespace katsubushi::proptest
