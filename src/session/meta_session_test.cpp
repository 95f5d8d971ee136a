// Meta commands through the whole session::SessionCore (the README's meta table): each
// request fed whole, split in two at every offset, and one byte at a time.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "testing/session_test_util.hpp"

namespace katsubushi::proto::test {

using namespace katsubushi::testing;
namespace {

const std::string kMn = "MN\r\n";
const std::string kBadFormat = "CLIENT_ERROR bad command line format\r\n";
const std::string kInvalidFlag = "CLIENT_ERROR invalid flag\r\n";

std::string digits(std::uint64_t sequence) { return std::to_string(rig_id(sequence)); }
std::string len(std::uint64_t sequence) { return std::to_string(digits(sequence).size()); }

// "VA <len><flags>\r\n<id>\r\n", flags written out by the test with a leading space.
std::string va(std::uint64_t sequence, const std::string& flags = "") {
  return "VA " + len(sequence) + flags + "\r\n" + digits(sequence) + "\r\n";
}

struct MetaCase {
  std::string name;
  std::string input;
  std::string expected;
  std::uint64_t completed = 0;
  std::uint64_t ids_issued = 0;
  bool closing = false;
  RigOptions options{};
  RigSetup setup{};
};

void PrintTo(const MetaCase& c, std::ostream* os) { *os << c.name; }

std::vector<MetaCase> mg_cases() {
  return {
      {"mg_value", "mg a v\r\n", va(0), 1, 1},
      {"mg_without_flags_is_a_bare_hit", "mg a\r\nmg b v\r\n", "HD\r\n" + va(1), 2, 2},
      {"mg_every_flag", "mg key k v c f s t q Oabc\r\n",
       va(0, " kkey c" + digits(0) + " f0 s" + len(0) + " t-1 Oabc"), 1, 1},
      {"mg_flags_in_request_order", "mg key Oxy t c k\r\n",
       "HD Oxy t-1 c" + digits(0) + " kkey\r\n", 1, 1},
      {"mg_case_insensitive_name", "MG a v\r\nMg b v\r\n", va(0) + va(1), 2, 2},
      {"mg_go_separators",
       "mg\ta\tv\x0b"
       "c\r\r\n",
       va(0, " c" + digits(0)), 1, 1},
      {"mg_base64_key", "mg Zm9v b k v\r\n", va(0, " kZm9v b"), 1, 1},
      {"mg_base64_binary_key", "mg AAEC/w== k b\r\n", "HD kAAEC/w== b\r\n", 1, 1},
      {"mg_base64_without_k", "mg Zm9v b v\r\n", va(0), 1, 1},
      {"mg_proxy_hints_ignored", "mg a Lpath/ v P1\r\n", va(0), 1, 1},
      {"mg_opaque_at_limit", "mg a O" + std::string(32, 'o') + "\r\n",
       "HD O" + std::string(32, 'o') + "\r\n", 1, 1},
      {"mg_empty_opaque", "mg a O\r\n", "HD O\r\n", 1, 1},
      {"mg_250_byte_key", "mg " + std::string(250, 'k') + " k\r\n",
       "HD k" + std::string(250, 'k') + "\r\n", 1, 1},
      // Every mg is a hit, so q suppresses nothing; mn closes a batch.
      {"mg_quiet_batch_closed_by_mn", "mg a q v Oa\r\nmg b q v Ob\r\nmg c q k\r\nmn\r\n",
       va(0, " Oa") + va(1, " Ob") + "HD kc\r\n" + kMn, 4, 3},
      {"mn", "mn\r\nMN\r\nmn ignored tokens\r\n", kMn + kMn + kMn, 3, 0},
      {"mg_between_text_commands", "get a\r\nmg b v\r\ngets c\r\n",
       value_reply("a", rig_id(0)) + "END\r\n" + va(1) + value_reply("c", rig_id(2), true) +
           "END\r\n",
       3, 3},
  };
}

// Every refused mg consumes no id: the get after it still gets sequence 0.
std::vector<MetaCase> mg_error_cases() {
  const std::string next = "get z\r\n";
  const std::string next_reply = value_reply("z", rig_id(0)) + "END\r\n";
  std::vector<std::pair<std::string, std::string>> errors = {
      {"mg_unknown_flag", "mg a x\r\n"},
      {"mg_flag_with_letters", "mg a vk\r\n"},
      {"mg_memcached_only_flag", "mg a T30 v\r\n"},
      {"mg_uppercase_flag", "mg a V\r\n"},
      {"mg_no_key", "mg\r\n"},
      {"mg_key_of_251_bytes", "mg " + std::string(251, 'k') + " v\r\n"},
      {"mg_key_with_control_byte", "mg a\x01z v\r\n"},
      {"mg_key_with_del", "mg a\x7f v\r\n"},
      {"mg_opaque_with_control_byte", "mg a Ox\x02y v\r\n"},
      {"mg_duplicate_flag", "mg a v c v\r\n"},
      {"mg_duplicate_proxy_hint", "mg a La Lb\r\n"},
      {"mg_opaque_over_limit", "mg a O" + std::string(33, 'o') + " v\r\n"},
      {"mg_bad_base64", "mg Zm9v= b v\r\n"},
      {"mg_non_canonical_base64", "mg Zm9= b v\r\n"},
  };
  const std::vector<std::string> replies = {
      kInvalidFlag, kInvalidFlag, kInvalidFlag, kInvalidFlag, kBadFormat, kBadFormat, kBadFormat,
      kBadFormat,   kBadFormat,
      "CLIENT_ERROR duplicate flag\r\n", "CLIENT_ERROR duplicate flag\r\n",
      "CLIENT_ERROR opaque token too long\r\n", "CLIENT_ERROR error decoding key\r\n",
      "CLIENT_ERROR error decoding key\r\n",
  };
  std::vector<MetaCase> cases;
  for (std::size_t i = 0; i < errors.size(); ++i) {
    cases.push_back({errors[i].first, errors[i].second + next, replies.at(i) + next_reply, 2, 1});
  }
  // Errors are sent even with q.
  cases.push_back({"mg_quiet_error_still_sent", "mg a q x\r\nmn\r\n", kInvalidFlag + kMn, 2, 0});
  return cases;
}

// ms/md/ma/me are refused with a clear error; ms's block is skipped first.
std::vector<MetaCase> unserved_cases() {
  RigOptions block16;
  block16.limits.max_data_block_bytes = 16;
  const std::string ms = "CLIENT_ERROR ms not supported\r\n";
  return {
      {"ms_block_skipped", "ms k 5\r\nhello\r\nmn\r\n", ms + kMn, 2, 0},
      {"ms_with_flags_and_q", "ms k 5 T0 F1 q I\r\nhello\r\nmn\r\n", ms + kMn, 2, 0},
      {"ms_block_looks_like_commands", "ms k 8\r\nmg a v\r\n\r\nmn\r\n", ms + kMn, 2, 0},
      {"ms_empty_block", "ms k 0\r\n\r\nmn\r\n", ms + kMn, 2, 0},
      {"ms_bad_key_still_skipped", "ms " + std::string(300, 'k') + " 2\r\nhi\r\nmn\r\n", ms + kMn,
       2, 0},
      {"ms_bad_data_chunk", "ms k 3\r\nabcdemn\r\n",
       "CLIENT_ERROR bad data chunk\r\n" + kMn, 2, 0},
      {"ms_without_length", "ms k\r\nms k x\r\nms\r\nmn\r\n", kBadFormat + kBadFormat + kBadFormat + kMn,
       4, 0},
      {"ms_block_at_limit", "ms k 16\r\n" + std::string(16, 'x') + "\r\nmn\r\n", ms + kMn, 2, 0,
       false, block16},
      {"ms_block_over_limit", "ms k 17\r\n" + std::string(17, 'x') + "\r\nmn\r\n",
       "CLIENT_ERROR data block too large\r\n", 1, 0, true, block16},
      {"md_ma_me", "md k q\r\nma k D1\r\nme k\r\nMD k\r\n",
       "CLIENT_ERROR md not supported\r\nCLIENT_ERROR ma not supported\r\n"
       "CLIENT_ERROR me not supported\r\nCLIENT_ERROR md not supported\r\n",
       4, 0},
      {"md_ma_me_without_key", "md\r\nma\r\nme\r\n", kBadFormat + kBadFormat + kBadFormat, 3, 0},
  };
}

std::vector<MetaCase> generator_unavailable_cases() {
  return {
      {"mg_server_error_before_epoch", "mg a v q\r\nmn\r\n",
       "SERVER_ERROR clock is before the id epoch\r\n" + kMn, 2, 0, false, {},
       [](SessionRig& rig) { rig.clock.set(id::kEpochUnixMs - 1); }},
  };
}

std::vector<MetaCase> all_cases() {
  std::vector<MetaCase> all;
  for (auto part : {mg_cases(), mg_error_cases(), unserved_cases(), generator_unavailable_cases()}) {
    all.insert(all.end(), part.begin(), part.end());
  }
  return all;
}

class MetaTableTest : public ::testing::TestWithParam<MetaCase> {};

TEST_P(MetaTableTest, SameRepliesUnderEveryChunking) {
  const MetaCase& c = GetParam();
  const Outcome o = run_every_chunking(c.input, c.options, c.setup);
  EXPECT_EQ(escaped(o.output), escaped(c.expected));
  EXPECT_EQ(o.closing, c.closing);
  EXPECT_EQ(o.completed, c.completed);
  EXPECT_EQ(o.ids_issued, c.ids_issued);
  // Each mg is one key asked: a hit, or a miss when the generator refuses.
  EXPECT_EQ(o.cmd_get, o.get_hits + o.get_misses);
}

INSTANTIATE_TEST_SUITE_P(MetaTable, MetaTableTest, ::testing::ValuesIn(all_cases()),
                         [](const ::testing::TestParamInfo<MetaCase>& param_info) {
                           return param_info.param.name;
                         });

TEST(MetaTableCasesTest, NamesAreUnique) {
  const auto cases = all_cases();
  std::vector<std::string> names;
  names.reserve(cases.size());
  for (const auto& c : cases) names.push_back(c.name);
  std::sort(names.begin(), names.end());
  EXPECT_EQ(std::adjacent_find(names.begin(), names.end()), names.end());
}

TEST(MetaSessionTest, MgCountsOneKeyPerRequest) {
  SessionRig rig;
  rig.feed("mg a v\r\nmg b\r\nmg c x\r\nmn\r\n");
  EXPECT_EQ(rig.counters.cmd_get.load(), 2u);
  EXPECT_EQ(rig.counters.get_hits.load(), 2u);
  rig.clock.set(id::kEpochUnixMs - 5);
  rig.feed("mg d v\r\n");
  EXPECT_EQ(rig.counters.cmd_get.load(), 3u);
  EXPECT_EQ(rig.counters.get_misses.load(), 1u);
  EXPECT_FALSE(rig.core.closing());
}

// A quiet batch that arrives in one read is answered by one process() call,
// mn included: the client's read for MN finds every reply before it.
TEST(MetaSessionTest, QuietBatchIsAnsweredInOneProcess) {
  constexpr int kRequests = 500;
  std::string input;
  std::string expected;
  for (int i = 0; i < kRequests; ++i) {
    input += "mg k" + std::to_string(i) + " q v k\r\n";
    expected += va(static_cast<std::uint64_t>(i), " kk" + std::to_string(i));
  }
  input += "mn\r\n";
  expected += kMn;
  SessionRig rig;
  rig.core.receive(input);
  rig.core.process();
  EXPECT_EQ(rig.core.output(), expected);
  EXPECT_EQ(rig.core.completed_requests(), static_cast<std::uint64_t>(kRequests + 1));
}

// The mg reply with everything in it fits the fuzzers' "small reply" bound.
TEST(MetaSessionTest, LargestMgReplyIsSmall) {
  SessionRig rig;
  rig.feed("mg " + std::string(248, 'A') + " b k O" + std::string(32, 'o') +
           " c f s t v q\r\n");
  EXPECT_EQ(rig.transcript.rfind("VA ", 0), 0u) << escaped(rig.transcript);
  EXPECT_LT(rig.transcript.size(), 400u);
}

}  // namespace
}  // namespace katsubushi::proto::test
