#include "bench/id_check.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace katsubushi::bench {
namespace {

TEST(IdCheckTest, ParsesDecimalUint64s) {
  EXPECT_EQ(parse_id("0"), std::optional<std::uint64_t>(0));
  EXPECT_EQ(parse_id("6830153034829824001"), std::optional<std::uint64_t>(6830153034829824001U));
  EXPECT_EQ(parse_id("18446744073709551615"), std::optional<std::uint64_t>(UINT64_MAX));
}

TEST(IdCheckTest, RefusesWhatIsNotADecimalUint64) {
  for (const char* bad : {"", "-1", "+1", " 1", "1 ", "1a", "0x10", "18446744073709551616",
                          "000000000000000000001", "1.5", "abc"}) {
    EXPECT_EQ(parse_id(bad), std::nullopt) << '"' << bad << '"';
  }
}

TEST(IdCheckTest, IncreasingIdsPass) {
  ConnectionIdCheck c;
  EXPECT_TRUE(c.add("10"));
  EXPECT_TRUE(c.add("11"));
  EXPECT_TRUE(c.add("200"));
  EXPECT_TRUE(c.ok());
  EXPECT_EQ(c.ids(), (std::vector<std::uint64_t>{10, 11, 200}));
}

TEST(IdCheckTest, ARepeatedIdOnOneConnectionIsAViolation) {
  // What memcached does: the same value for every get.
  ConnectionIdCheck c;
  EXPECT_TRUE(c.add("1000000000000000000"));
  EXPECT_FALSE(c.add("1000000000000000000"));
  EXPECT_FALSE(c.ok());
  EXPECT_NE(c.violation().find("strictly increase"), std::string::npos) << c.violation();
}

TEST(IdCheckTest, ADecreasingIdIsAViolation) {
  ConnectionIdCheck c;
  EXPECT_TRUE(c.add("5"));
  EXPECT_FALSE(c.add("4"));
  EXPECT_EQ(c.violation(), "id 4 after 5 on the same connection (ids must strictly increase)");
}

TEST(IdCheckTest, RepliesInOrderMustFollowEveryIdBefore) {
  ConnectionIdCheck c;
  const std::vector<std::uint64_t> first{10, 11, 12};
  const std::vector<std::uint64_t> overlapping{12, 13};
  EXPECT_TRUE(c.add_reply(first, true));
  EXPECT_FALSE(c.add_reply(overlapping, true));
  EXPECT_EQ(c.violation(), "id 12 after 12 on the same connection (ids must strictly increase)");
}

TEST(IdCheckTest, RepliesInEitherOrderPassAndAreSortedAtTheEnd) {
  // Two calls in flight at once, the later one answered first.
  ConnectionIdCheck c;
  const std::vector<std::uint64_t> later{20, 21};
  const std::vector<std::uint64_t> earlier{10, 11};
  EXPECT_TRUE(c.add_reply(later, false));
  EXPECT_TRUE(c.add_reply(earlier, false));
  c.finish();
  EXPECT_TRUE(c.ok()) << c.violation();
  EXPECT_EQ(c.ids(), (std::vector<std::uint64_t>{10, 11, 20, 21}));
}

TEST(IdCheckTest, AnIdInTwoRepliesInEitherOrderIsFoundAtTheEnd) {
  ConnectionIdCheck c;
  const std::vector<std::uint64_t> later{20, 21};
  const std::vector<std::uint64_t> earlier{10, 21};
  EXPECT_TRUE(c.add_reply(later, false));
  EXPECT_TRUE(c.add_reply(earlier, false));
  EXPECT_TRUE(c.ok());
  c.finish();
  EXPECT_EQ(c.violation(), "id 21 received twice on the same connection");
}

TEST(IdCheckTest, AReplyWhoseIdsDoNotIncreaseIsAViolationInEitherOrder) {
  ConnectionIdCheck c;
  const std::vector<std::uint64_t> reply{7, 7};
  EXPECT_FALSE(c.add_reply(reply, false));
  EXPECT_EQ(c.violation(), "id 7 after 7 in one reply (ids must strictly increase)");
}

TEST(IdCheckTest, ANonNumberIsAViolationAndTheFirstOneIsKept) {
  ConnectionIdCheck c;
  EXPECT_FALSE(c.add("hello"));
  EXPECT_FALSE(c.add("1"));  // ignored after a violation
  EXPECT_EQ(c.violation(), "value \"hello\" is not a decimal uint64");
  EXPECT_TRUE(c.ids().empty());
}

TEST(IdCheckTest, ALongBadValueIsCutInTheMessage) {
  ConnectionIdCheck c;
  EXPECT_FALSE(c.add(std::string(1000, 'x')));
  EXPECT_LT(c.violation().size(), 100U);
  EXPECT_NE(c.violation().find("...\""), std::string::npos);
}

TEST(IdCheckTest, NoDuplicateAcrossConnections) {
  const std::vector<std::vector<std::uint64_t>> lists = {{1, 4, 7}, {2, 5, 8}, {}, {3, 6, 9}};
  EXPECT_EQ(find_duplicate(lists), std::nullopt);
}

TEST(IdCheckTest, ADuplicateAcrossConnectionsIsFound) {
  const std::vector<std::vector<std::uint64_t>> lists = {{1, 4, 7}, {2, 5, 8}, {3, 5, 9}};
  EXPECT_EQ(find_duplicate(lists), std::optional<std::uint64_t>(5));
}

TEST(IdCheckTest, ADuplicateBetweenTheFirstAndLastListsIsFound) {
  const std::vector<std::vector<std::uint64_t>> lists = {{100}, {1, 2, 3}, {50, 60}, {100, 200}};
  EXPECT_EQ(find_duplicate(lists), std::optional<std::uint64_t>(100));
}

TEST(IdCheckTest, NoListsNoDuplicate) {
  EXPECT_EQ(find_duplicate({}), std::nullopt);
}

}  // namespace
}  // namespace katsubushi::bench
