// The real katsubushi binary over loopback: meta commands, the stats groups
// and the text rules shared with go-katsubushi (separators, version and quit
// with arguments).
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "id/layout.hpp"
#include "testing/daemon_fixture.hpp"
#include "testing/daemon_process.hpp"

namespace katsubushi::testing {
namespace {

constexpr std::uint32_t kWorkerId = 43;

using DaemonMetaTest = DaemonFixture<kWorkerId>;

std::vector<std::string> split(std::string_view s) {
  std::vector<std::string> out;
  std::size_t start = 0;
  for (;;) {
    const std::size_t sp = s.find(' ', start);
    out.emplace_back(s.substr(start, sp - start));
    if (sp == std::string_view::npos) return out;
    start = sp + 1;
  }
}

std::uint64_t to_u64(std::string_view s) { return std::stoull(std::string(s)); }

// One `VA <len> <flags>*\r\n<id>\r\n` at the front of `in`: its flags and id;
// `used` is its length. False unless it is whole and well formed.
bool parse_va(std::string_view in, std::vector<std::string>& flags, std::uint64_t& id,
              std::size_t& used) {
  const std::size_t eol = in.find("\r\n");
  if (eol == std::string_view::npos || !in.starts_with("VA ")) return false;
  auto tokens = split(in.substr(0, eol));
  if (tokens.size() < 2) return false;
  const std::size_t len = std::stoul(tokens[1]);
  if (in.size() < eol + 2 + len + 2 || in.substr(eol + 2 + len, 2) != "\r\n") return false;
  id = to_u64(in.substr(eol + 2, len));
  flags.assign(tokens.begin() + 2, tokens.end());
  used = eol + 2 + len + 2;
  return true;
}

TEST_F(DaemonMetaTest, MgWithEveryFlag) {
  LoopbackClient c = connect();
  ASSERT_TRUE(c.send_all("mg key k v c f s t q Oabc\r\n"));
  auto head = c.recv_until("\r\n");
  ASSERT_TRUE(head);
  auto value = c.recv_until("\r\n");
  ASSERT_TRUE(value);
  const std::string reply = *head + *value;
  std::vector<std::string> flags;
  std::uint64_t id = 0;
  std::size_t used = 0;
  ASSERT_TRUE(parse_va(reply, flags, id, used)) << reply;
  EXPECT_EQ(used, reply.size());
  const std::string digits = std::to_string(id);
  EXPECT_EQ(flags, (std::vector<std::string>{"kkey", "c" + digits, "f0",
                                             "s" + std::to_string(digits.size()), "t-1", "Oabc"}));
  EXPECT_EQ(id::decode(id).worker_id, kWorkerId);

  // Without v: HD and the flags; the cas is a fresh, larger id.
  auto hd = c.request("mg key c Oz\r\n", "\r\n");
  ASSERT_TRUE(hd);
  const auto parts = split(hd->substr(0, hd->size() - 2));
  ASSERT_EQ(parts.size(), 3u) << *hd;
  EXPECT_EQ(parts[0], "HD");
  EXPECT_GT(to_u64(std::string_view(parts[1]).substr(1)), id);
  EXPECT_EQ(parts[2], "Oz");
}

TEST_F(DaemonMetaTest, QuietBatchClosedByMn) {
  LoopbackClient c = connect();
  constexpr int kRequests = 200;
  std::string batch;
  for (int i = 0; i < kRequests; ++i) batch += "mg k" + std::to_string(i) + " q v O" + std::to_string(i) + "\r\n";
  batch += "mn\r\n";
  ASSERT_TRUE(c.send_all(batch));
  auto replies = c.recv_until("MN\r\n");
  ASSERT_TRUE(replies);
  std::string_view rest = *replies;
  std::uint64_t last = 0;
  for (int i = 0; i < kRequests; ++i) {
    std::vector<std::string> flags;
    std::uint64_t id = 0;
    std::size_t used = 0;
    ASSERT_TRUE(parse_va(rest, flags, id, used)) << "reply " << i << ": " << rest.substr(0, 80);
    EXPECT_EQ(flags, (std::vector<std::string>{"O" + std::to_string(i)}));
    EXPECT_GT(id, last);
    last = id;
    rest.remove_prefix(used);
  }
  EXPECT_EQ(rest, "MN\r\n");
}

TEST_F(DaemonMetaTest, Base64KeyIsReturnedAsGiven) {
  LoopbackClient c = connect();
  auto reply = c.request("mg AAEC/w== b k\r\n", "\r\n");
  ASSERT_TRUE(reply);
  EXPECT_EQ(*reply, "HD kAAEC/w== b\r\n");
  auto bad = c.request("mg Zm9= b k\r\n", "\r\n");
  ASSERT_TRUE(bad);
  EXPECT_EQ(*bad, "CLIENT_ERROR error decoding key\r\n");
}

TEST_F(DaemonMetaTest, ErrorsKeepTheConnectionAndTheStreamInSync) {
  LoopbackClient c = connect();
  auto reply = c.request(
      "mg a x\r\nmg a v v\r\nms k 5 q\r\nhello\r\nmd k\r\nma k\r\nme k\r\nmn\r\n", "MN\r\n");
  ASSERT_TRUE(reply);
  EXPECT_EQ(*reply,
            "CLIENT_ERROR invalid flag\r\nCLIENT_ERROR duplicate flag\r\n"
            "CLIENT_ERROR ms not supported\r\nCLIENT_ERROR md not supported\r\n"
            "CLIENT_ERROR ma not supported\r\nCLIENT_ERROR me not supported\r\nMN\r\n");
  // No id was drawn by any of them.
  const auto stats = query_stats(c);
  EXPECT_EQ(stat_value(stats, "ids_issued"), 0);
  EXPECT_EQ(stat_value(stats, "cmd_get"), 0);
}

TEST_F(DaemonMetaTest, MgAndGetShareOneIdSequence) {
  LoopbackClient a = connect();
  LoopbackClient b = connect();
  std::uint64_t last = 0;
  for (int i = 0; i < 10; ++i) {
    auto values = request_ids(a, "get k");
    ASSERT_TRUE(values);
    ASSERT_EQ(values->size(), 1u);
    EXPECT_GT((*values)[0].id, last);
    last = (*values)[0].id;
    auto hd = b.request("mg k c\r\n", "\r\n");
    ASSERT_TRUE(hd && hd->starts_with("HD c")) << (hd ? *hd : "no reply");
    const std::uint64_t id = to_u64(std::string_view(*hd).substr(4, hd->size() - 6));
    EXPECT_GT(id, last);
    last = id;
  }
  const auto stats = query_stats(a);
  EXPECT_EQ(stat_value(stats, "cmd_get"), 20);
  EXPECT_EQ(stat_value(stats, "get_hits"), 20);
}

TEST_F(DaemonMetaTest, StatsGroups) {
  LoopbackClient c = connect();
  auto items = c.request("stats items\r\n", "END\r\n");
  ASSERT_TRUE(items);
  EXPECT_EQ(*items, "END\r\n");
  auto slabs = c.request("stats slabs\r\n", "END\r\n");
  ASSERT_TRUE(slabs);
  EXPECT_EQ(*slabs, "STAT active_slabs 0\r\nSTAT total_malloced 0\r\nEND\r\n");
  auto sizes = c.request("STATS Sizes\r\n", "END\r\n");
  ASSERT_TRUE(sizes);
  EXPECT_EQ(*sizes, "STAT sizes_status disabled\r\nEND\r\n");
  auto conns = c.request("stats conns\r\n", "END\r\n");
  ASSERT_TRUE(conns);
  EXPECT_EQ(*conns, "END\r\n");
  auto detail = c.request("stats detail on\r\nstats detail dump\r\n", "END\r\n");
  ASSERT_TRUE(detail);
  EXPECT_EQ(*detail, "OK\r\nEND\r\n");
  auto unknown = c.request("stats bogus\r\n", "\r\n");
  ASSERT_TRUE(unknown);
  EXPECT_EQ(*unknown, "ERROR\r\n");
}

TEST_F(DaemonMetaTest, StatsResetZeroesGetCountersNotIds) {
  LoopbackClient c = connect();
  auto before = request_ids(c, "get a b c");
  ASSERT_TRUE(before);
  auto reset = c.request("stats reset\r\n", "\r\n");
  ASSERT_TRUE(reset);
  EXPECT_EQ(*reset, "RESET\r\n");
  auto stats = query_stats(c);
  EXPECT_EQ(stat_value(stats, "cmd_get"), 0);
  EXPECT_EQ(stat_value(stats, "get_hits"), 0);
  EXPECT_EQ(stat_value(stats, "ids_issued"), 3);
  auto after = request_ids(c, "get d");
  ASSERT_TRUE(after);
  ASSERT_EQ(after->size(), 1u);
  EXPECT_GT((*after)[0].id, before->back().id);
  stats = query_stats(c);
  EXPECT_EQ(stat_value(stats, "cmd_get"), 1);
}

// go-katsubushi splits on tab, \v, \f and a stray \r, ignores arguments of
// version, and closes on `quit now`.
TEST_F(DaemonMetaTest, GoKatsubushiTextRules) {
  LoopbackClient c = connect();
  auto tabbed = request_ids(c, "get\ta\tb\r");
  ASSERT_TRUE(tabbed);
  ASSERT_EQ(tabbed->size(), 2u);
  EXPECT_EQ((*tabbed)[0].key, "a");
  EXPECT_EQ((*tabbed)[1].key, "b");
  auto blank = c.request("\r\r\n   \r\n", "ERROR\r\nERROR\r\n");
  ASSERT_TRUE(blank);
  EXPECT_EQ(*blank, "ERROR\r\nERROR\r\n");
  auto version = c.request("version x\r\n", "\r\n");
  ASSERT_TRUE(version);
  EXPECT_TRUE(version->starts_with("VERSION ")) << *version;
  ASSERT_TRUE(c.send_all("quit now\r\n"));
  auto rest = c.read_until_closed();
  ASSERT_TRUE(rest) << "quit now did not close the connection";
  EXPECT_EQ(*rest, "");
  EXPECT_TRUE(daemon_.running());
}

}  // namespace
}  // namespace katsubushi::testing
