#include "proto/stats_groups.hpp"

#include <gtest/gtest.h>

#include <array>
#include <string_view>

namespace katsubushi::proto {
namespace {

class FixedStats final : public service::StatsSource {
 public:
  service::StatList general_stats() override { return {{"pid", "4242"}}; }
  service::StatList settings_stats() override { return {{"maxconns", "1024"}}; }
  void reset_stats() override { ++resets; }
  int resets = 0;
};

TEST(StatsGroups, NamesAreCaseInsensitiveAndEmptyIsGeneral) {
  struct Named {
    std::string_view name;
    StatsDialect dialect;
    StatsGroup group;
  };
  constexpr StatsDialect text = StatsDialect::text;
  constexpr StatsDialect binary = StatsDialect::binary;
  for (const Named& n : {Named{"", text, StatsGroup::general},
                         Named{"", binary, StatsGroup::general},
                         Named{"SeTTings", text, StatsGroup::settings},
                         Named{"ITEMS", binary, StatsGroup::items},
                         Named{"Slabs", text, StatsGroup::slabs},
                         Named{"sizeS", binary, StatsGroup::sizes},
                         Named{"RESET", binary, StatsGroup::reset},
                         Named{"Detail", text, StatsGroup::detail},
                         Named{"CACHEDUMP", text, StatsGroup::cachedump},
                         Named{"bogus", text, StatsGroup::unknown},
                         Named{"item", text, StatsGroup::unknown},
                         Named{"itemss", binary, StatsGroup::unknown}}) {
    EXPECT_EQ(stats_group_named(n.name, n.dialect), n.group) << n.name;
  }
}

// As memcached's proto_bin.c: conns, detail and cachedump are text-only groups.
TEST(StatsGroups, BinaryKnowsNoTextOnlyGroup) {
  for (const std::string_view name : {"conns", "detail", "cachedump"}) {
    EXPECT_NE(stats_group_named(name, StatsDialect::text), StatsGroup::unknown) << name;
    EXPECT_EQ(stats_group_named(name, StatsDialect::binary), StatsGroup::unknown) << name;
  }
}

TEST(StatsGroups, LinesOfEachGroup) {
  service::ProtocolCounters counters;
  FixedStats source;
  EXPECT_EQ(answer_stats_group(StatsGroup::general, counters, &source), source.general_stats());
  EXPECT_EQ(answer_stats_group(StatsGroup::settings, counters, &source),
            source.settings_stats());
  EXPECT_EQ(answer_stats_group(StatsGroup::slabs, counters, &source),
            (service::StatList{{"active_slabs", "0"}, {"total_malloced", "0"}}));
  EXPECT_EQ(answer_stats_group(StatsGroup::sizes, counters, &source),
            (service::StatList{{"sizes_status", "disabled"}}));
  for (const StatsGroup none : {StatsGroup::items, StatsGroup::conns, StatsGroup::detail,
                                StatsGroup::cachedump, StatsGroup::unknown}) {
    EXPECT_TRUE(answer_stats_group(none, counters, &source).empty());
  }
  EXPECT_TRUE(answer_stats_group(StatsGroup::general, counters, nullptr).empty());
  EXPECT_TRUE(answer_stats_group(StatsGroup::settings, counters, nullptr).empty());
  EXPECT_EQ(source.resets, 0);  // only reset resets
}

TEST(StatsGroups, ResetZeroesTheCountersAndTheSourcesTotals) {
  service::ProtocolCounters counters;
  counters.cmd_get = 5;
  counters.get_hits = 3;
  counters.get_misses = 2;
  FixedStats source;
  EXPECT_TRUE(answer_stats_group(StatsGroup::reset, counters, &source).empty());
  EXPECT_EQ(counters.cmd_get.load(), 0u);
  EXPECT_EQ(counters.get_hits.load(), 0u);
  EXPECT_EQ(counters.get_misses.load(), 0u);
  EXPECT_EQ(source.resets, 1);
  counters.get_hits = 1;
  EXPECT_TRUE(answer_stats_group(StatsGroup::reset, counters, nullptr).empty());
  EXPECT_EQ(counters.get_hits.load(), 0u);
}

TEST(StatsGroups, DetailAndCachedumpReplies) {
  using Args = std::array<std::string_view, 2>;
  const Args on{"ON", ""};
  const Args dump{"dump", ""};
  const Args yes{"yes", ""};
  EXPECT_EQ(stats_detail_reply(std::span(on).first(1)), "OK\r\n");
  EXPECT_EQ(stats_detail_reply(std::span(dump).first(1)), "END\r\n");
  EXPECT_EQ(stats_detail_reply(std::span(yes).first(1)),
            "CLIENT_ERROR usage: stats detail on|off|dump\r\n");
  EXPECT_EQ(stats_detail_reply({}), "CLIENT_ERROR usage: stats detail on|off|dump\r\n");

  const Args ok{"63", "0"};
  const Args bad{"1", "-1"};
  const Args illegal{"64", "1"};
  EXPECT_EQ(stats_cachedump_reply(ok), "END\r\n");
  EXPECT_EQ(stats_cachedump_reply(std::span(ok).first(1)), "CLIENT_ERROR bad command line\r\n");
  EXPECT_EQ(stats_cachedump_reply(bad), "CLIENT_ERROR bad command line format\r\n");
  EXPECT_EQ(stats_cachedump_reply(illegal), "CLIENT_ERROR Illegal slab id\r\n");
}

}  // namespace
}  // namespace katsubushi::proto
