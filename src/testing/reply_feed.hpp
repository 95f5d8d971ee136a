// What the reply parsers' tests share: a sink that records events as text,
// feeding a wire to a parser in pieces, as a client reads it, and the three
// cuttings every parser must read alike.
#pragma once

#include <gtest/gtest.h>

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "bench/reply_parser.hpp"

namespace katsubushi::testing {

struct Recorder {
  std::vector<std::string> events;
  void on_value(std::string_view data) { events.push_back("value " + std::string(data)); }
  void on_reply(bench::ReplyEnd end) {
    events.push_back("reply " + std::to_string(static_cast<int>(end)));
  }
  void on_error(bench::ReplyEnd end) {
    events.push_back("error " + std::to_string(static_cast<int>(end)));
  }
  void on_close() { events.emplace_back("close"); }
};

inline std::string reply(bench::ReplyEnd e) {
  return "reply " + std::to_string(static_cast<int>(e));
}
inline std::string error(bench::ReplyEnd e) {
  return "error " + std::to_string(static_cast<int>(e));
}

struct Fed {
  std::vector<std::string> events;
  bench::ParseStatus status = bench::ParseStatus::ok;
  std::size_t left = 0;  // bytes never consumed
};

// `parse(buffer, sink)` over `wire` arriving in pieces cut at `cuts`; what
// the parser leaves unconsumed stays at the front of the buffer.
template <typename Parse>
Fed feed(Parse parse, std::string_view wire, const std::vector<std::size_t>& cuts) {
  Recorder r;
  std::string buffer;
  std::size_t from = 0;
  Fed out;
  auto step = [&](std::size_t to) {
    buffer.append(wire.substr(from, to - from));
    from = to;
    const bench::ParseResult res = parse(buffer, r);
    buffer.erase(0, res.consumed);
    if (res.status != bench::ParseStatus::ok) out.status = res.status;
  };
  for (const std::size_t cut : cuts) step(cut);
  step(wire.size());
  out.events = r.events;
  out.left = buffer.size();
  return out;
}

// `wire` in one piece: `want`, all of it consumed.
template <typename Parse>
void expect_events_whole(Parse parse, std::string_view wire, const std::vector<std::string>& want) {
  const Fed f = feed(parse, wire, {});
  EXPECT_EQ(f.status, bench::ParseStatus::ok);
  EXPECT_EQ(f.events, want);
  EXPECT_EQ(f.left, 0U);
}

// `wire` cut in two at each offset in turn: `want` every time, all consumed.
template <typename Parse>
void expect_events_wherever_cut(Parse parse, std::string_view wire,
                                const std::vector<std::string>& want) {
  for (std::size_t cut = 1; cut < wire.size(); ++cut) {
    const Fed f = feed(parse, wire, {cut});
    ASSERT_EQ(f.status, bench::ParseStatus::ok) << cut;
    ASSERT_EQ(f.events, want) << "cut at " << cut;
    ASSERT_EQ(f.left, 0U) << cut;
  }
}

// `wire` a byte at a time: `want`.
template <typename Parse>
void expect_events_byte_by_byte(Parse parse, std::string_view wire,
                                const std::vector<std::string>& want) {
  std::vector<std::size_t> cuts;
  for (std::size_t i = 1; i < wire.size(); ++i) cuts.push_back(i);
  const Fed f = feed(parse, wire, cuts);
  EXPECT_EQ(f.status, bench::ParseStatus::ok);
  EXPECT_EQ(f.events, want);
}

}  // namespace katsubushi::testing
