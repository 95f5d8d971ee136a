// The GoogleTest side of the SessionCore tests: the rig's constants under
// short names, and runners that feed one input under different chunkings.
// The rig itself is shared with the properties and fuzzers (src/testing/).
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "id/layout.hpp"
#include "testing/session_rig.hpp"
#include "testing/wire.hpp"

namespace katsubushi::testing {

inline constexpr std::int64_t kStartUnixMs = kDefaultStartUnixMs;
inline constexpr std::uint32_t kWorker = kDefaultWorker;
inline constexpr std::string_view kVersion = kDefaultVersion;

// An id written out from the layout by hand, not through id::encode.
constexpr std::uint64_t id_at(std::int64_t unix_ms, std::uint64_t sequence) {
  return (static_cast<std::uint64_t>(unix_ms - id::kEpochUnixMs) << 22) |
         (std::uint64_t{kWorker} << 12) | sequence;
}

// The `sequence`-th id a rig with the default options issues in its first
// millisecond.
constexpr std::uint64_t rig_id(std::uint64_t sequence) { return id_at(kStartUnixMs, sequence); }

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

inline void PrintTo(const Outcome& o, std::ostream* os) {
  *os << "{output=\"" << escaped(o.output) << "\", closing=" << o.closing
      << ", completed=" << o.completed << ", ids_issued=" << o.ids_issued
      << ", cmd_get=" << o.cmd_get << ", get_hits=" << o.get_hits << ", get_misses=" << o.get_misses
      << "}";
}

// Prepares a fresh rig before any input, e.g. moves its clock.
using RigSetup = std::function<void(SessionRig&)>;

// How the client's side of a run ends: the connection stays open, or the
// client half-closes after its last byte (SessionCore::end_of_input()).
enum class Ending { open, half_close };

// Feeds `input` cut at `cuts` (ascending offsets), processing after each piece.
inline Outcome run_pieces(std::string_view input, const std::vector<std::size_t>& cuts,
                          const RigOptions& options, const RigSetup& setup,
                          Ending ending = Ending::open) {
  auto rig = std::make_unique<SessionRig>(options);
  if (setup) setup(*rig);
  std::size_t from = 0;
  for (std::size_t cut : cuts) {
    rig->feed(input.substr(from, cut - from));
    from = cut;
  }
  rig->feed(input.substr(from));
  if (ending == Ending::half_close) {
    // As the shell does on EOF: then process and write until nothing is owed.
    rig->core.end_of_input();
    rig->feed_all({});
  }
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
                                  const RigSetup& setup = {}, Ending ending = Ending::open) {
  Outcome whole = run_pieces(input, {}, options, setup, ending);
  for (std::size_t at = 0; at <= input.size(); ++at) {
    const Outcome split = run_pieces(input, {at}, options, setup, ending);
    if (split != whole) {
      ADD_FAILURE() << "split at offset " << at << " of " << input.size()
                    << " differs from whole input\n  whole: " << ::testing::PrintToString(whole)
                    << "\n  split: " << ::testing::PrintToString(split);
      return whole;  // one report per input is enough
    }
  }
  std::vector<std::size_t> every_byte;
  for (std::size_t at = 1; at < input.size(); ++at) every_byte.push_back(at);
  const Outcome bytewise = run_pieces(input, every_byte, options, setup, ending);
  EXPECT_EQ(bytewise, whole) << "byte-at-a-time feed differs from whole input";
  return whole;
}

}  // namespace katsubushi::testing
