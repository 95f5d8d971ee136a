// Shared fixtures for the SessionCore tests: a session wired to a simulated
// clock, and runners that feed one input under different chunkings.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "id/generator.hpp"
#include "id/layout.hpp"
#include "id/manual_clock.hpp"
#include "proto/session.hpp"
#include "proto/stats.hpp"

namespace katsubushi::proto::test {

inline constexpr std::int64_t kStartUnixMs = id::kEpochUnixMs + 123'456'789;
inline constexpr std::uint32_t kWorker = 5;
inline constexpr std::string_view kVersion = "9.8.7-test";

// An id written out from the layout by hand, not through id::encode.
constexpr std::uint64_t id_at(std::int64_t unix_ms, std::uint64_t sequence) {
  return (static_cast<std::uint64_t>(unix_ms - id::kEpochUnixMs) << 22) |
         (std::uint64_t{kWorker} << 12) | sequence;
}

// "VALUE <key> 0 <len>[ <cas>]\r\n<id>\r\n" for one key.
inline std::string value_reply(std::string_view key, std::uint64_t id, bool with_cas = false) {
  const std::string digits = std::to_string(id);
  std::string out = "VALUE " + std::string(key) + " 0 " + std::to_string(digits.size());
  if (with_cas) out += " " + digits;
  return out + "\r\n" + digits + "\r\n";
}

class FakeStats final : public StatsSource {
 public:
  StatList general_stats() override { return {{"pid", "4242"}, {"uptime", "17"}}; }
  StatList settings_stats() override { return {{"maxconns", "4096"}, {"worker_id", "5"}}; }
};

struct RigOptions {
  SessionLimits limits{};
  id::GeneratorOptions generator{};
  bool with_stats = true;
};

// One session and everything it is wired to. Not movable: the session and
// the generator hold references into it.
struct SessionRig {
  explicit SessionRig(const RigOptions& options = {})
      : generator(clock, kWorker, options.generator),
        core(SessionServices{generator, counters, options.with_stats ? &stats : nullptr,
                             kVersion},
             options.limits) {}
  SessionRig(const SessionRig&) = delete;
  SessionRig& operator=(const SessionRig&) = delete;

  // Receives `bytes`, processes, and moves all output into `transcript`,
  // as a shell that always writes everything would.
  void feed(std::string_view bytes) {
    core.receive(bytes);
    core.process();
    drain();
  }
  void drain() {
    transcript.append(core.output());
    core.consume_output(core.output().size());
  }

  id::ManualClock clock{kStartUnixMs};
  id::IdGenerator generator;
  ProtocolCounters counters;
  FakeStats stats;
  SessionCore core;
  std::string transcript;
};

// Everything observable after a run, compared across chunkings.
struct Outcome {
  std::string output;
  bool closing = false;
  std::uint64_t completed = 0;
  std::uint64_t ids_issued = 0;
  std::uint64_t cmd_get = 0;
  std::uint64_t get_hits = 0;
  std::uint64_t get_misses = 0;

  friend bool operator==(const Outcome&, const Outcome&) = default;
};

inline std::string escaped(std::string_view s) {
  std::string out;
  for (unsigned char c : s) {
    if (c == '\r') {
      out += "\\r";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c < 0x20 || c >= 0x7f) {
      static constexpr char kHex[] = "0123456789abcdef";
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 15];
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

inline void PrintTo(const Outcome& o, std::ostream* os) {
  *os << "{output=\"" << escaped(o.output) << "\", closing=" << o.closing
      << ", completed=" << o.completed << ", ids_issued=" << o.ids_issued
      << ", cmd_get=" << o.cmd_get << ", get_hits=" << o.get_hits
      << ", get_misses=" << o.get_misses << "}";
}

// Prepares a fresh rig before any input, e.g. moves its clock.
using RigSetup = std::function<void(SessionRig&)>;

// Feeds `input` cut at `cuts` (ascending offsets), processing after each piece.
inline Outcome run_pieces(std::string_view input, const std::vector<std::size_t>& cuts,
                          const RigOptions& options, const RigSetup& setup) {
  auto rig = std::make_unique<SessionRig>(options);
  if (setup) setup(*rig);
  std::size_t from = 0;
  for (std::size_t cut : cuts) {
    rig->feed(input.substr(from, cut - from));
    from = cut;
  }
  rig->feed(input.substr(from));
  const auto gc = rig->generator.counters();
  return Outcome{rig->transcript,
                 rig->core.closing(),
                 rig->core.completed_requests(),
                 gc.ids_issued,
                 rig->counters.cmd_get.load(),
                 rig->counters.get_hits.load(),
                 rig->counters.get_misses.load()};
}

// Runs `input` whole, split in two at every offset, and one byte at a time;
// each run gets a fresh rig so ids match. Expects every run to agree with
// the whole one, and returns that.
inline Outcome run_every_chunking(std::string_view input, const RigOptions& options = {},
                                  const RigSetup& setup = {}) {
  const Outcome whole = run_pieces(input, {}, options, setup);
  for (std::size_t at = 0; at <= input.size(); ++at) {
    const Outcome split = run_pieces(input, {at}, options, setup);
    if (split != whole) {
      ADD_FAILURE() << "split at offset " << at << " of " << input.size()
                    << " differs from whole input\n  whole: " << testing::PrintToString(whole)
                    << "\n  split: " << testing::PrintToString(split);
      return whole;  // one report per input is enough
    }
  }
  std::vector<std::size_t> every_byte;
  for (std::size_t at = 1; at < input.size(); ++at) every_byte.push_back(at);
  const Outcome bytewise = run_pieces(input, every_byte, options, setup);
  EXPECT_EQ(bytewise, whole) << "byte-at-a-time feed differs from whole input";
  return whole;
}

}  // namespace katsubushi::proto::test
