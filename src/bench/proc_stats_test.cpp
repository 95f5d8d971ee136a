#include "bench/proc_stats.hpp"

#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdint>
#include <optional>

namespace katsubushi::bench {
namespace {

using Ticks = std::optional<std::uint64_t>;

TEST(ProcStatsTest, CpuTicksAreUtimePlusStime) {
  // A real line: utime 1523, stime 407.
  const char* stat =
      "4242 (katsubushi) S 1 4242 4242 0 -1 4194560 1095 0 0 0 1523 407 0 0 20 0 3 0 "
      "123456 123456789 1750 18446744073709551615 1 1 0 0 0 0 0 4096 17610 0 0 0 17 1 0 0 0 0 0";
  EXPECT_EQ(cpu_ticks_from_stat(stat), Ticks(1930));
}

TEST(ProcStatsTest, ACommandNameWithSpacesAndParenthesesIsSkipped) {
  const char* stat = "7 (a) b) c (d) R 1 7 7 0 -1 0 0 0 0 0 11 22 0 0 20 0 1 0 5 6 7";
  EXPECT_EQ(cpu_ticks_from_stat(stat), Ticks(33));
}

TEST(ProcStatsTest, TruncatedOrGarbledStatIsNothing) {
  EXPECT_EQ(cpu_ticks_from_stat(""), std::nullopt);
  EXPECT_EQ(cpu_ticks_from_stat("4242 katsubushi S 1"), std::nullopt);
  EXPECT_EQ(cpu_ticks_from_stat("4242 (k) S 1 2 3 4 5 6 7 8 9 10"), std::nullopt);
  EXPECT_EQ(cpu_ticks_from_stat("4242 (k) S 1 2 3 4 5 6 7 8 9 10 x 4 0"), std::nullopt);
}

TEST(ProcStatsTest, RssIsVmRssInKb) {
  const char* status =
      "Name:\tkatsubushi\nVmPeak:\t  100000 kB\nVmRSS:\t    6972 kB\nRssAnon:\t 2000 kB\n";
  EXPECT_EQ(rss_kb_from_status(status), Ticks(6972));
  EXPECT_EQ(rss_kb_from_status("VmRSS: 12 kB\n"), Ticks(12));
}

TEST(ProcStatsTest, NoVmRssIsNothing) {
  EXPECT_EQ(rss_kb_from_status("Name:\tzombie\nState:\tZ\n"), std::nullopt);
  EXPECT_EQ(rss_kb_from_status("VmRSS:\t\n"), std::nullopt);
  EXPECT_EQ(rss_kb_from_status("XVmRSS: 5 kB\n"), std::nullopt);
}

TEST(ProcStatsTest, ReadsThisProcess) {
  EXPECT_TRUE(process_cpu_time(static_cast<int>(getpid())).has_value());
  const auto rss = process_rss_kb(static_cast<int>(getpid()));
  ASSERT_TRUE(rss.has_value());
  EXPECT_GT(*rss, 0U);
  EXPECT_EQ(process_rss_kb(-1), std::nullopt);
}

}  // namespace
}  // namespace katsubushi::bench
