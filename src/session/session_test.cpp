// Every row of the request/reply table of the memcached text protocol (the
// README's "Protocol" section), each input fed whole, split in two at every
// offset, and one byte at a time.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "id/issue_waiting.hpp"
#include "testing/session_test_util.hpp"

namespace katsubushi::proto::test {

using namespace katsubushi::testing;
namespace {

const std::string kVersionReply = "VERSION " + std::string(kVersion) + "\r\n";
const std::string kError = "ERROR\r\n";
const std::string kBadFormat = "CLIENT_ERROR bad command line format\r\n";
const std::string kLineTooLong = "CLIENT_ERROR line too long\r\n";
const std::string kBadDataChunk = "CLIENT_ERROR bad data chunk\r\n";
const std::string kEnd = "END\r\n";

struct TextCase {
  std::string name;
  std::string input;
  std::string expected;
  bool closing = false;
  std::uint64_t completed = 0;
  std::uint64_t ids_issued = 0;
  RigOptions options{};
  RigSetup setup{};
  Ending ending = Ending::open;
};

void PrintTo(const TextCase& c, std::ostream* os) { *os << c.name; }

RigOptions with_line_limit(std::size_t max_line_bytes) {
  RigOptions o;
  o.limits.max_line_bytes = max_line_bytes;
  return o;
}

std::vector<TextCase> retrieval_cases() {
  return {
      {"get_one_key", "get a\r\n", value_reply("a", rig_id(0)) + kEnd, false, 1, 1},
      {"get_multi_key", "get a bb ccc\r\n",
       value_reply("a", rig_id(0)) + value_reply("bb", rig_id(1)) + value_reply("ccc", rig_id(2)) +
           kEnd,
       false, 1, 3},
      {"get_same_key_twice", "get a a\r\n",
       value_reply("a", rig_id(0)) + value_reply("a", rig_id(1)) + kEnd, false, 1, 2},
      {"gets_cas_is_the_id", "gets a b\r\n",
       value_reply("a", rig_id(0), true) + value_reply("b", rig_id(1), true) + kEnd, false, 1, 2},
      {"get_extra_spaces", "get   a  b \r\n",
       value_reply("a", rig_id(0)) + value_reply("b", rig_id(1)) + kEnd, false, 1, 2},
      {"get_250_byte_key", "get " + std::string(250, 'k') + "\r\n",
       value_reply(std::string(250, 'k'), rig_id(0)) + kEnd, false, 1, 1},
      // A rejected key consumes no id: the next get still gets sequence 0.
      {"key_of_251_bytes", "get " + std::string(251, 'k') + "\r\nget c\r\n",
       kBadFormat + value_reply("c", rig_id(0)) + kEnd, false, 2, 1},
      {"key_of_251_bytes_among_good_keys", "get a " + std::string(251, 'k') + " b\r\nget c\r\n",
       kBadFormat + value_reply("c", rig_id(0)) + kEnd, false, 2, 1},
      {"key_with_control_byte", "get a\x01z\r\nget c\r\n",
       kBadFormat + value_reply("c", rig_id(0)) + kEnd, false, 2, 1},
      {"key_with_escape_byte", "gets a\x1bz\r\nget c\r\n",
       kBadFormat + value_reply("c", rig_id(0)) + kEnd, false, 2, 1},
      {"key_with_del", "get a\x7f\r\nget c\r\n", kBadFormat + value_reply("c", rig_id(0)) + kEnd,
       false, 2, 1},
      {"bare_get", "get\r\nversion\r\n", kError + kVersionReply, false, 2, 0},
  };
}

std::vector<TextCase> other_command_cases() {
  RigOptions no_stats;
  no_stats.with_stats = false;
  return {
      {"stats", "stats\r\n", "STAT pid 4242\r\nSTAT uptime 17\r\n" + kEnd, false, 1, 0},
      {"stats_settings", "stats settings\r\n", "STAT maxconns 4096\r\nSTAT worker_id 5\r\n" + kEnd,
       false, 1, 0},
      {"stats_without_source", "stats\r\nstats settings\r\n", kEnd + kEnd, false, 2, 0, no_stats},
      {"stats_unknown_group", "stats bogus\r\nstats cachedumps 1 1\r\nversion\r\n",
       kError + kError + kVersionReply, false, 3, 0},
      {"version", "version\r\n", kVersionReply, false, 1, 0},
      // go-katsubushi looks at the command name only.
      {"version_with_arguments", "version x\r\nVERSION 1 2 3 4 5 6 7 8 9\r\n",
       kVersionReply + kVersionReply, false, 2, 0},
      {"quit_with_arguments", "get a\r\nquit now\r\nget b\r\n", value_reply("a", rig_id(0)) + kEnd,
       true, 2, 1},
      {"verbosity", "verbosity 1\r\n", "OK\r\n", false, 1, 0},
      {"verbosity_noreply", "verbosity 1 noreply\r\nversion\r\n", kVersionReply, false, 2, 0},
      {"verbosity_bare", "verbosity\r\nversion\r\n", kError + kVersionReply, false, 2, 0},
      {"verbosity_bad_level", "verbosity x\r\n", kBadFormat, false, 1, 0},
      {"quit_flushes_then_ignores_the_rest", "get a\r\nquit\r\nget b\r\nversion\r\n",
       value_reply("a", rig_id(0)) + kEnd, true, 2, 1},
      {"quit_alone", "quit\r\n", "", true, 1, 0},
      {"unknown_command", "incr a 1\r\nversion\r\n", kError + kVersionReply, false, 2, 0},
      // Every whole line is a request, an empty one included.
      {"empty_line", "\r\nversion\r\n", kError + kVersionReply, false, 2, 0},
      {"empty_lines_bare_lf", "\n\n", kError + kError, false, 2, 0},
      {"case_insensitive_commands",
       "GET a\r\nGeTs b\r\nVERSION\r\nSTATS settings\r\nVerbosity 1\r\nQUIT\r\n",
       value_reply("a", rig_id(0)) + kEnd + value_reply("b", rig_id(1), true) + kEnd +
           kVersionReply + "STAT maxconns 4096\r\nSTAT worker_id 5\r\n" + kEnd + "OK\r\n",
       true, 6, 2},
      {"bare_lf_line_endings", "get a\nversion\nverbosity 1\nnope\n",
       value_reply("a", rig_id(0)) + kEnd + kVersionReply + "OK\r\n" + kError, false, 4, 1},
  };
}

std::vector<TextCase> storage_cases() {
  std::vector<TextCase> cases;
  for (const std::string name : {"set", "add", "replace", "append", "prepend"}) {
    cases.push_back({"storage_" + name, name + " k 0 0 5\r\nhello\r\nversion\r\n",
                     kError + kVersionReply, false, 2, 0});
    cases.push_back({"storage_" + name + "_noreply",
                     name + " k 0 0 5 noreply\r\nhello\r\nversion\r\n", kVersionReply, false, 2,
                     0});
  }
  RigOptions block16;
  block16.limits.max_data_block_bytes = 16;
  const std::vector<TextCase> more = {
      {"storage_cas", "cas k 0 0 5 77\r\nhello\r\nversion\r\n", kError + kVersionReply, false,
       2, 0},
      {"storage_cas_noreply", "cas k 0 0 5 77 noreply\r\nhello\r\nversion\r\n", kVersionReply,
       false, 2, 0},
      // The block is data even when it looks like commands.
      {"storage_block_looks_like_commands", "set k 1 0 13\r\nget a\r\nquit\r\n\r\nversion\r\n",
       kError + kVersionReply, false, 2, 0},
      {"storage_empty_block", "set k 0 0 0\r\n\r\nversion\r\n", kError + kVersionReply, false,
       2, 0},
      {"storage_bad_key_still_swallowed",
       "set " + std::string(300, 'k') + " 0 0 2\r\nhi\r\nversion\r\n", kError + kVersionReply,
       false, 2, 0},
      {"storage_bare_lf_header", "set k 0 0 2\nhi\r\nversion\n", kError + kVersionReply, false,
       2, 0},
      {"storage_malformed_header", "set k 0 0\r\nversion\r\n", kBadFormat + kVersionReply,
       false, 2, 0},
      {"bad_data_chunk", "set k 0 0 3\r\nabcdeversion\r\n", kBadDataChunk + kVersionReply,
       false, 2, 0},
      {"bad_data_chunk_lf_only", "set k 0 0 3\r\nabc\nXversion\r\n",
       kBadDataChunk + kVersionReply, false, 2, 0},
      {"data_block_at_limit", "set k 0 0 16\r\n" + std::string(16, 'x') + "\r\nversion\r\n",
       kError + kVersionReply, false, 2, 0, block16},
      {"data_block_over_limit", "set k 0 0 17\r\n" + std::string(17, 'x') + "\r\nversion\r\n",
       "CLIENT_ERROR data block too large\r\n", true, 1, 0, block16},
  };
  cases.insert(cases.end(), more.begin(), more.end());
  return cases;
}

std::vector<TextCase> limit_and_sniffing_cases() {
  const std::string key28(28, 'k');  // "get " + 28 bytes: a 32-byte line
  std::string binary_header(24, '\0');
  binary_header[0] = static_cast<char>(0x80);
  binary_header[1] = 0x0b;  // Version
  std::string binary_version_reply = binary_header;
  binary_version_reply[0] = static_cast<char>(0x81);
  binary_version_reply[11] = static_cast<char>(kVersion.size());  // body length
  binary_version_reply += kVersion;
  return {
      {"line_too_long_newline_arrives", "get " + std::string(40, 'k') + "\r\nversion\r\n",
       kLineTooLong, true, 0, 0, with_line_limit(32)},
      {"line_too_long_newline_never_arrives", "get " + std::string(40, 'k'), kLineTooLong, true, 0,
       0, with_line_limit(32)},
      {"line_too_long_after_a_command", "version\r\nget " + std::string(40, 'k'),
       kVersionReply + kLineTooLong, true, 1, 0, with_line_limit(32)},
      {"line_over_limit_by_one", "get " + key28 + "k\r\n", kLineTooLong, true, 0, 0,
       with_line_limit(32)},
      {"line_at_limit_crlf", "get " + key28 + "\r\n", value_reply(key28, rig_id(0)) + kEnd, false,
       1, 1, with_line_limit(32)},
      {"line_at_limit_crlf_after_a_command", "version\r\nget " + key28 + "\r\n",
       kVersionReply + value_reply(key28, rig_id(0)) + kEnd, false, 2, 1, with_line_limit(32)},
      {"line_at_limit_lf", "get " + key28 + "\n", value_reply(key28, rig_id(0)) + kEnd, false, 1, 1,
       with_line_limit(32)},
      // A '\r' at the end may still be the start of "\r\n"; one before other bytes is not.
      {"line_at_limit_cr_waits", "get " + key28 + "\r", "", false, 0, 0, with_line_limit(32)},
      {"line_at_limit_cr_then_more", "get " + key28 + "\rX\n", kLineTooLong, true, 0, 0,
       with_line_limit(32)},
      // An HTTP request line makes the connection HTTP (its own tests: src/http/).
      {"http_request_line", "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n",
       "HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\nContent-Length: 10\r\n"
       "Cache-Control: no-store\r\n\r\nnot found\n",
       false, 1, 0},
      {"http_request_line_bare_lf", "POST /id HTTP/1.0\nHost: x\n\n",
       "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\nContent-Length: 60\r\n"
       "Cache-Control: no-store\r\nConnection: close\r\n\r\n"
       "bad request: the request line is not METHOD target HTTP/1.x\n",
       true, 1, 0},
      // Only the first line chooses the protocol; later it is a text get.
      {"http_line_after_text_is_text", "version\r\nGET / HTTP/1.1\r\n",
       kVersionReply + value_reply("/", rig_id(0)) + value_reply("HTTP/1.1", rig_id(1)) + kEnd,
       false, 2, 2},
      // 0x80 first: the binary protocol (its own tests: binary_session_test.cpp).
      {"binary_version_is_answered", binary_header, binary_version_reply, false, 1, 0},
      {"binary_partial_header_waits", "\x80version\r\n", "", false, 0, 0},
  };
}

std::vector<TextCase> generator_unavailable_cases() {
  RigOptions wait_1s;
  wait_1s.generator.max_backward_wait_ms = 1000;
  return {
      {"server_error_before_epoch", "get a\r\nversion\r\n",
       "SERVER_ERROR clock is before the id epoch\r\n" + kVersionReply, false, 2, 0, {},
       [](SessionRig& rig) { rig.clock.set(id::kEpochUnixMs - 1); }},
      // kStartUnixMs's 4096 ids are used up and the clock is then stepped
      // back by as much as the generator may wait: it refuses.
      {"server_error_clock_behind", "gets a b\r\nversion\r\n",
       "SERVER_ERROR clock is behind the last issued id\r\n" + kVersionReply, false, 2,
       id::kSequencePerMs, wait_1s,
       [](SessionRig& rig) {
         std::vector<std::uint64_t> ids(id::kSequencePerMs);
         ASSERT_FALSE(katsubushi::id::issue_waiting(rig.generator, ids).error);
         rig.clock.set(kStartUnixMs - 1000);
       }},
  };
}

// The client half-closes after its last byte (session::SessionCore::end_of_input()).
// go-katsubushi answers a last line without its "\n"; so do we, then close.
std::vector<TextCase> half_close_cases() {
  const auto half = Ending::half_close;
  return {
      {"eof_answers_unterminated_line",
       "get a",
       value_reply("a", rig_id(0)) + kEnd,
       true,
       1,
       1,
       {},
       {},
       half},
      {"eof_after_cr",
       "version\r\nget a\r",
       kVersionReply + value_reply("a", rig_id(0)) + kEnd,
       true,
       2,
       1,
       {},
       {},
       half},
      {"eof_after_two_cr",
       "get a\r\r",
       value_reply("a", rig_id(0)) + kEnd,
       true,
       1,
       1,
       {},
       {},
       half},
      {"eof_after_complete_lines",
       "get a\r\nversion\n",
       value_reply("a", rig_id(0)) + kEnd + kVersionReply,
       true,
       2,
       1,
       {},
       {},
       half},
      {"eof_whitespace_only_line",
       "get a\r\n \t ",
       value_reply("a", rig_id(0)) + kEnd + kError,
       true,
       2,
       1,
       {},
       {},
       half},
      {"eof_lone_cr", "version\n\r", kVersionReply + kError, true, 2, 0, {}, {}, half},
      {"eof_meta_line",
       "mg a v",
       "VA " + std::to_string(std::to_string(rig_id(0)).size()) + "\r\n" +
           std::to_string(rig_id(0)) + "\r\n",
       true,
       1,
       1,
       {},
       {},
       half},
      {"eof_quit_line",
       "get a\r\nquit",
       value_reply("a", rig_id(0)) + kEnd,
       true,
       2,
       1,
       {},
       {},
       half},
      // A data block cut short never completes: nothing more is answered.
      {"eof_in_data_block", "set k 0 0 5\r\nhel", "", true, 0, 0, {}, {}, half},
      {"eof_after_storage_header",
       "version\r\nset k 0 0 5",
       kVersionReply,
       true,
       1,
       0,
       {},
       {},
       half},
      {"eof_in_ms_block", "ms k 5\r\nhe", "", true, 0, 0, {}, {}, half},
      // A first line cut short can only be text, even shaped like HTTP.
      {"eof_http_shaped_first_line",
       "GET / HTTP/1.1",
       value_reply("/", rig_id(0)) + value_reply("HTTP/1.1", rig_id(1)) + kEnd,
       true,
       1,
       2,
       {},
       {},
       half},
      {"eof_with_nothing_sent", "", "", false, 0, 0, {}, {}, half},
      {"eof_after_line_too_long",
       "get " + std::string(40, 'k'),
       kLineTooLong,
       true,
       0,
       0,
       with_line_limit(32),
       {},
       half},
      {"eof_line_at_limit",
       "get " + std::string(28, 'k') + "\r",
       value_reply(std::string(28, 'k'), rig_id(0)) + kEnd,
       true,
       1,
       1,
       with_line_limit(32),
       {},
       half},
  };
}

// go-katsubushi splits lines with Go's strings.Fields: tab, vertical tab,
// form feed and a stray '\r' separate tokens as a space does.
std::vector<TextCase> separator_cases() {
  return {
      {"tab_after_command", "get\ta\r\n", value_reply("a", rig_id(0)) + kEnd, false, 1, 1},
      {"tab_between_keys", "get a\tb\r\n",
       value_reply("a", rig_id(0)) + value_reply("b", rig_id(1)) + kEnd, false, 1, 2},
      {"stray_cr_before_crlf", "get a\r\r\n", value_reply("a", rig_id(0)) + kEnd, false, 1, 1},
      {"stray_cr_between_keys", "gets a\rb\n",
       value_reply("a", rig_id(0), true) + value_reply("b", rig_id(1), true) + kEnd, false, 1, 2},
      {"vertical_tab_and_form_feed",
       "\x0bget\x0c"
       "a\x0b\x0c b\r\n",
       value_reply("a", rig_id(0)) + value_reply("b", rig_id(1)) + kEnd, false, 1, 2},
      {"separators_in_other_commands",
       "stats\tsettings\r\nverbosity\t1\tnoreply\r\nset\tk\t0\t0\t2\r\nhi\r\nversion\t\r\n",
       "STAT maxconns 4096\r\nSTAT worker_id 5\r\n" + kEnd + kError + kVersionReply, false, 4, 0},
      // Lines of only separators crash go-katsubushi (it takes the first
      // field of a line that has none); here they are empty lines.
      {"whitespace_only_lines", "\r\r\n   \r\n\t\x0b\x0c\n \r \r\nget a\r\n",
       kError + kError + kError + kError + value_reply("a", rig_id(0)) + kEnd, false, 5, 1},
  };
}

// memcached's answers for the stats groups, with what applies to an id server.
std::vector<TextCase> stats_group_cases() {
  RigOptions no_stats;
  no_stats.with_stats = false;
  const std::string slabs = "STAT active_slabs 0\r\nSTAT total_malloced 0\r\n" + kEnd;
  const std::string sizes = "STAT sizes_status disabled\r\n" + kEnd;
  const std::string detail_usage = "CLIENT_ERROR usage: stats detail on|off|dump\r\n";
  return {
      {"stats_items", "stats items\r\n", kEnd, false, 1, 0},
      {"stats_slabs", "stats slabs\r\n", slabs, false, 1, 0},
      {"stats_sizes", "stats sizes\r\n", sizes, false, 1, 0},
      {"stats_conns", "stats conns\r\n", kEnd, false, 1, 0},
      {"stats_groups_case_insensitive",
       "stats ITEMS\r\nStats Slabs\r\nSTATS SiZeS\r\nstats CONNS\r\n", kEnd + slabs + sizes + kEnd,
       false, 4, 0},
      {"stats_groups_ignore_extra_tokens", "stats items 1 2 3\r\nstats settings x\r\n",
       kEnd + "STAT maxconns 4096\r\nSTAT worker_id 5\r\n" + kEnd, false, 2, 0},
      {"stats_groups_without_source", "stats items\r\nstats slabs\r\nstats reset\r\n",
       kEnd + slabs + "RESET\r\n", false, 3, 0, no_stats},
      // A reset zeroes counters; ids go on from where they were.
      {"stats_reset", "get a\r\nstats reset\r\nSTATS RESET\r\nget b\r\n",
       value_reply("a", rig_id(0)) + kEnd + "RESET\r\nRESET\r\n" + value_reply("b", rig_id(1)) +
           kEnd,
       false, 4, 2},
      {"stats_detail", "stats detail on\r\nstats detail OFF\r\nstats DETAIL dump\r\n",
       "OK\r\nOK\r\n" + kEnd, false, 3, 0},
      {"stats_detail_usage", "stats detail\r\nstats detail o\r\nstats detail yes\r\n",
       detail_usage + detail_usage + detail_usage, false, 3, 0},
      {"stats_cachedump", "stats cachedump 1 10\r\nstats cachedump 63 0\r\n", kEnd + kEnd, false, 2,
       0},
      {"stats_cachedump_errors",
       "stats cachedump\r\nstats cachedump 1\r\nstats cachedump x 1\r\nstats cachedump 1 -1\r\n"
       "stats cachedump 64 1\r\n",
       "CLIENT_ERROR bad command line\r\nCLIENT_ERROR bad command line\r\n" + kBadFormat +
           kBadFormat + "CLIENT_ERROR Illegal slab id\r\n",
       false, 5, 0},
  };
}

std::vector<TextCase> all_cases() {
  std::vector<TextCase> all;
  for (auto part : {retrieval_cases(), other_command_cases(), storage_cases(),
                    limit_and_sniffing_cases(), generator_unavailable_cases(), separator_cases(),
                    stats_group_cases(), half_close_cases()}) {
    all.insert(all.end(), part.begin(), part.end());
  }
  return all;
}

class TextTableTest : public ::testing::TestWithParam<TextCase> {};

TEST_P(TextTableTest, SameRepliesUnderEveryChunking) {
  const TextCase& c = GetParam();
  const Outcome o = run_every_chunking(c.input, c.options, c.setup, c.ending);
  EXPECT_EQ(escaped(o.output), escaped(c.expected));
  EXPECT_EQ(o.closing, c.closing);
  EXPECT_EQ(o.completed, c.completed);
  EXPECT_EQ(o.ids_issued, c.ids_issued);
}

INSTANTIATE_TEST_SUITE_P(DesignTable, TextTableTest, ::testing::ValuesIn(all_cases()),
                         [](const ::testing::TestParamInfo<TextCase>& param_info) {
                           return param_info.param.name;
                         });

TEST(TextTableCasesTest, NamesAreUniqueAndCoverTheTable) {
  auto cases = all_cases();
  std::vector<std::string> names;
  names.reserve(cases.size());
  for (const auto& c : cases) names.push_back(c.name);
  std::sort(names.begin(), names.end());
  EXPECT_EQ(std::adjacent_find(names.begin(), names.end()), names.end());
  EXPECT_GE(cases.size(), 90u);
}

}  // namespace
}  // namespace katsubushi::proto::test
