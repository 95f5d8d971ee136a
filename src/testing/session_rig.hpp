// A SessionCore wired the way the server wires it, but to a simulated clock
// and a fixed `stats` source, for unit tests, properties and fuzzers alike.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "id/generator.hpp"
#include "id/layout.hpp"
#include "id/manual_clock.hpp"
#include "session/session.hpp"
#include "service/stats.hpp"

namespace katsubushi::testing {

inline constexpr std::int64_t kDefaultStartUnixMs = id::kEpochUnixMs + 123'456'789;
inline constexpr std::uint32_t kDefaultWorker = 5;
inline constexpr std::string_view kDefaultVersion = "9.8.7-test";

// A `stats` source whose answers never change, so the reply owed is known.
class FixedStats final : public service::StatsSource {
 public:
  service::StatList general_stats() override { return {{"pid", "4242"}, {"uptime", "17"}}; }
  service::StatList settings_stats() override { return {{"maxconns", "4096"}, {"worker_id", "5"}}; }
};

struct RigOptions {
  service::SessionLimits limits{};
  id::GeneratorOptions generator{};
  bool with_stats = true;  // false: the session has no stats source
  std::uint32_t worker_id = kDefaultWorker;
  std::int64_t start_unix_ms = kDefaultStartUnixMs;
  std::string_view version = kDefaultVersion;  // must outlive the rig
  // undecided: sniffed from the first bytes, as on the main port; otherwise
  // the protocol of a dedicated listener (-http-port: http).
  session::Protocol protocol = session::Protocol::undecided;
};

// How bytes reach the session: copied by receive(), or written into
// prepare() and commit()ed, as the Asio shell reads.
enum class Input { copy, zero_copy };

// One session and everything it is wired to. Rigs built from equal options
// issue the same ids to the same requests. Not movable: the session and the
// generator hold references into it.
struct SessionRig {
  explicit SessionRig(const RigOptions& options = {})
      : clock(options.start_unix_ms),
        generator(clock, options.worker_id, options.generator),
        core(service::SessionServices{generator, counters, options.with_stats ? &stats : nullptr,
                                    options.version},
             options.limits, options.protocol) {}
  SessionRig(const SessionRig&) = delete;
  SessionRig& operator=(const SessionRig&) = delete;

  void receive(std::string_view bytes, Input how = Input::copy) {
    if (how == Input::copy) {
      core.receive(bytes);
      return;
    }
    // A buffer bigger than what arrives, partly filled.
    const auto space = core.prepare(bytes.size() + 16);
    if (!bytes.empty()) std::memcpy(space.data(), bytes.data(), bytes.size());
    core.commit(bytes.size());
  }

  // Moves up to `n` bytes of output into `transcript`, as a partial write.
  void read(std::size_t n) {
    const std::string_view out = core.output().substr(0, n);
    transcript.append(out);
    core.consume_output(out.size());
  }
  // Moves all output into `transcript`.
  void drain() { read(core.output().size()); }

  // What the shell does when process() leaves the request in hand waiting:
  // at "not before T" its timer fires at T (here the clock jumps there), and
  // after a yield it simply goes on. Returns false when nothing waits.
  bool wait_as_the_shell() {
    if (const std::int64_t at = core.not_before_unix_ms(); at != 0) {
      ++not_before_waits;
      if (clock.now_unix_ms() < at) clock.set(at);
      return true;
    }
    if (core.yielded()) {
      ++yields;
      return true;
    }
    return false;
  }

  // Receives `bytes`, processes and drains, as a shell that always writes
  // everything would; a request left waiting for ids, or yielded, is gone on
  // with before more is read, as the shell does.
  void feed(std::string_view bytes) {
    receive(bytes);
    do {
      core.process();
      drain();
      // With its output sent, a session that neither closes nor wants input
      // has a request in hand (a get stopped at the output limit): go on.
    } while (wait_as_the_shell() || (!core.closing() && !core.wants_input()));
  }

  // Receives `bytes`, then processes and drains until the session has nothing
  // more to say: process() stops while unsent output is over its limit, and
  // sending that output lets it go on.
  void feed_all(std::string_view bytes, Input how = Input::copy) {
    receive(bytes, how);
    for (;;) {
      core.process();
      const bool waited = wait_as_the_shell();
      if (core.output().empty() && !waited) return;
      drain();
    }
  }

  id::ManualClock clock;
  id::IdGenerator generator;
  service::ProtocolCounters counters;
  FixedStats stats;
  session::SessionCore core;
  std::string transcript;  // every byte read back, in order
  std::uint64_t not_before_waits = 0;  // times the session said "not before T"
  std::uint64_t yields = 0;            // times it yielded with work left
};

}  // namespace katsubushi::testing
