#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

#include "proto/text_command.hpp"

namespace katsubushi::proto {
namespace {

using Kind = TextCommandKind;

TextCommand parsed(std::string_view line) {
  TextCommand cmd;
  parse_text_line(line, cmd);
  return cmd;
}

Kind kind_of(std::string_view line) { return parsed(line).kind; }

TEST(TextParserTest, EmptyAndBlankLines) {
  EXPECT_EQ(kind_of(""), Kind::empty);
  EXPECT_EQ(kind_of("   "), Kind::empty);
  // go-katsubushi indexes the first field of a line without checking there
  // is one: a line of only separators crashed it. Here it is just empty.
  EXPECT_EQ(kind_of("\r"), Kind::empty);
  EXPECT_EQ(kind_of(" \t\v\f\r "), Kind::empty);
}

// go-katsubushi splits lines with Go's strings.Fields: tab, vertical tab,
// form feed and a stray '\r' separate tokens as a space does.
TEST(TextParserTest, GoKatsubushiSeparators) {
  EXPECT_EQ(split_keys(parsed("get\ta").keys), (std::vector<std::string_view>{"a"}));
  EXPECT_EQ(split_keys(parsed("get a\tb").keys), (std::vector<std::string_view>{"a", "b"}));
  EXPECT_EQ(split_keys(parsed("get a\r").keys), (std::vector<std::string_view>{"a"}));
  EXPECT_EQ(split_keys(parsed("\tget\x0b\x0c" "a\rb \t").keys), (std::vector<std::string_view>{"a", "b"}));
  EXPECT_EQ(kind_of("gets\tk"), Kind::gets);
  EXPECT_EQ(kind_of("version\r"), Kind::version);
  EXPECT_EQ(kind_of("verbosity\t1\tnoreply"), Kind::verbosity);
  EXPECT_TRUE(parsed("verbosity\t1\tnoreply").noreply);
  EXPECT_EQ(parsed("set\tk\t0\t0\t5").data_bytes, 5u);
  EXPECT_EQ(parsed("stats\tsettings").stats_group, "settings");
  // Other control bytes are no separators: they make a key invalid.
  EXPECT_EQ(kind_of(std::string_view("get a\x01" "b")), Kind::bad_format);
  EXPECT_EQ(kind_of(std::string_view("get a\x1b" "b")), Kind::bad_format);
}

TEST(TextParserTest, GetAndGetsCollectKeys) {
  const TextCommand get = parsed("get a bb ccc");
  EXPECT_EQ(get.kind, Kind::get);
  EXPECT_EQ(split_keys(get.keys), (std::vector<std::string_view>{"a", "bb", "ccc"}));

  const TextCommand gets = parsed("gets  k1   k2 ");
  EXPECT_EQ(gets.kind, Kind::gets);
  EXPECT_EQ(split_keys(gets.keys), (std::vector<std::string_view>{"k1", "k2"}));
}

TEST(TextParserTest, KeysPointIntoTheLine) {
  const std::string line = "get alpha";
  const TextCommand cmd = parsed(line);
  ASSERT_EQ(cmd.key_count, 1u);
  EXPECT_EQ(split_keys(cmd.keys)[0].data(), line.data() + 4);
}

TEST(TextParserTest, CommandNamesAreCaseInsensitive) {
  EXPECT_EQ(kind_of("GET a"), Kind::get);
  EXPECT_EQ(kind_of("GeTs a"), Kind::gets);
  EXPECT_EQ(kind_of("STATS"), Kind::stats);
  EXPECT_EQ(kind_of("Version"), Kind::version);
  EXPECT_EQ(kind_of("QUIT"), Kind::quit);
  EXPECT_EQ(kind_of("VERBOSITY 1"), Kind::verbosity);
  EXPECT_EQ(kind_of("SET k 0 0 1"), Kind::storage);
  EXPECT_EQ(kind_of("CaS k 0 0 1 9"), Kind::storage);
}

TEST(TextParserTest, BareGetIsAnError) {
  EXPECT_EQ(kind_of("get"), Kind::unknown);
  EXPECT_EQ(kind_of("gets   "), Kind::unknown);
}

TEST(TextParserTest, InvalidKeysAreBadFormat) {
  EXPECT_EQ(kind_of("get " + std::string(250, 'k')), Kind::get);
  EXPECT_EQ(kind_of("get " + std::string(251, 'k')), Kind::bad_format);
  EXPECT_EQ(kind_of("get ok " + std::string(251, 'k')), Kind::bad_format);
  EXPECT_EQ(kind_of(std::string_view("get a\x01z")), Kind::bad_format);
  EXPECT_EQ(kind_of(std::string_view("get a\x7fz")), Kind::bad_format);
  EXPECT_EQ(kind_of(std::string_view("get a\0z", 7)), Kind::bad_format);
  EXPECT_EQ(kind_of(std::string_view("gets a\x1fz")), Kind::bad_format);
}

TEST(TextParserTest, ValidKeyRule) {
  EXPECT_TRUE(valid_key("a"));
  EXPECT_TRUE(valid_key(std::string(250, 'x')));
  EXPECT_TRUE(valid_key("\xe9\xb0\xb9"));  // UTF-8 bytes are allowed
  EXPECT_FALSE(valid_key(""));
  EXPECT_FALSE(valid_key(std::string(251, 'x')));
  EXPECT_FALSE(valid_key("a b"));
  EXPECT_FALSE(valid_key("a\nb"));
  EXPECT_FALSE(valid_key("a\x7f"));
  EXPECT_FALSE(valid_key(std::string_view("\0", 1)));
}

TEST(TextParserTest, Stats) {
  EXPECT_EQ(parsed("stats").stats_group, "");
  const TextCommand s = parsed("stats settings");
  EXPECT_EQ(s.kind, Kind::stats);
  EXPECT_EQ(s.stats_group, "settings");
  EXPECT_EQ(parsed("stats items").stats_group, "items");
  EXPECT_EQ(parsed("stats items").stats_nargs, 0u);
  // The group's arguments are kept (detail on, cachedump 1 2); more are ignored.
  const TextCommand detail = parsed("stats detail on");
  EXPECT_EQ(detail.kind, Kind::stats);
  EXPECT_EQ(detail.stats_group, "detail");
  ASSERT_EQ(detail.stats_nargs, 1u);
  EXPECT_EQ(detail.stats_args[0], "on");
  const TextCommand many = parsed("stats cachedump 1 2 3 4 5 6 7 8 9 10");
  EXPECT_EQ(many.kind, Kind::stats);
  ASSERT_EQ(many.stats_nargs, kMaxStatsArgs);
  EXPECT_EQ(many.stats_args[0], "1");
  EXPECT_EQ(many.stats_args[1], "2");
}

// go-katsubushi looks at the command name only.
TEST(TextParserTest, VersionAndQuitIgnoreArguments) {
  EXPECT_EQ(kind_of("version"), Kind::version);
  EXPECT_EQ(kind_of("version x"), Kind::version);
  EXPECT_EQ(kind_of("version 1 2 3 4 5 6 7 8 9 10"), Kind::version);
  EXPECT_EQ(kind_of("quit"), Kind::quit);
  EXPECT_EQ(kind_of("quit now"), Kind::quit);
  EXPECT_EQ(kind_of("QUIT now please 1 2 3 4 5 6 7 8 9"), Kind::quit);
}

TEST(TextParserTest, Verbosity) {
  EXPECT_FALSE(parsed("verbosity 1").noreply);
  EXPECT_TRUE(parsed("verbosity 1 noreply").noreply);
  EXPECT_EQ(kind_of("verbosity 1 noreply"), Kind::verbosity);
  EXPECT_EQ(kind_of("verbosity"), Kind::unknown);
  EXPECT_EQ(kind_of("verbosity x"), Kind::bad_format);
  EXPECT_EQ(kind_of("verbosity 1 please"), Kind::bad_format);
  EXPECT_EQ(kind_of("verbosity 1 noreply extra"), Kind::bad_format);
}

TEST(TextParserTest, StorageCommandsAnnounceTheirBlock) {
  for (const char* name : {"set", "add", "replace", "append", "prepend"}) {
    const TextCommand c = parsed(std::string(name) + " key 5 -1 17");
    EXPECT_EQ(c.kind, Kind::storage) << name;
    EXPECT_EQ(c.data_bytes, 17u) << name;
    EXPECT_FALSE(c.noreply) << name;
  }
  const TextCommand cas = parsed("cas key 0 0 3 12345 noreply");
  EXPECT_EQ(cas.kind, Kind::storage);
  EXPECT_EQ(cas.data_bytes, 3u);
  EXPECT_TRUE(cas.noreply);
  EXPECT_TRUE(parsed("set k 0 0 0 noreply").noreply);
  // A bad key is still a well-framed request: its block must be skipped.
  EXPECT_EQ(kind_of("set " + std::string(300, 'k') + " 0 0 4"), Kind::storage);
}

TEST(TextParserTest, MalformedStorageIsBadFormat) {
  const char* bad[] = {
      "set",          "set k",          "set k 0 0",     "set k x 0 1",
      "set k 0 x 1",  "set k 0 0 -1",   "set k 0 0 x",   "set k 0 0 1 reply",
      "set k 0 0 1 noreply more",        "cas k 0 0 1",  "cas k 0 0 1 x",
      "set k 99999999999 0 1",           "set k 0 0 99999999999999999999",
      "set k 0 0 1 2 3 4 5 6 7 8 9",     "set k 0 --1 5",  "set k 0 - 5",
  };
  for (const char* line : bad) {
    const TextCommand c = parsed(line);
    EXPECT_EQ(c.kind, Kind::bad_format) << line;
    EXPECT_FALSE(c.noreply) << line;
  }
}

TEST(TextParserTest, UnknownCommands) {
  for (const char* line : {"incr k 1", "delete k", "flush_all", "touch k 1", "x", "getx a",
                           "ge a", "m", "mgg k", "mx k"}) {
    EXPECT_EQ(kind_of(line), Kind::unknown) << line;
  }
}

// Meta lines are recognised by name and left to parse_meta_line.
TEST(TextParserTest, MetaCommandsByName) {
  for (const char* line : {"mg k v", "MG k", "mn", "ms k 5", "md k", "ma k", "me k", "mg",
                           "\tmg\tk", "mg k\x01"}) {
    const TextCommand cmd = parsed(line);
    EXPECT_EQ(cmd.kind, Kind::meta) << line;
    EXPECT_EQ(cmd.key_count, 0u) << line;
    EXPECT_EQ(cmd.data_bytes, 0u) << line;
  }
}

TEST(TextParserTest, ReusedCommandIsReset) {
  TextCommand cmd;
  parse_text_line("cas k 0 0 3 1 noreply", cmd);
  ASSERT_EQ(cmd.kind, Kind::storage);
  parse_text_line("get a b", cmd);
  EXPECT_EQ(cmd.kind, Kind::get);
  EXPECT_EQ(cmd.key_count, 2u);
  EXPECT_EQ(cmd.data_bytes, 0u);
  EXPECT_FALSE(cmd.noreply);
  parse_text_line("stats detail on", cmd);
  EXPECT_EQ(cmd.key_count, 0u);
  parse_text_line("stats settings", cmd);
  EXPECT_EQ(cmd.stats_nargs, 0u);
  EXPECT_EQ(cmd.stats_args[0], "");
  parse_text_line("", cmd);
  EXPECT_EQ(cmd.kind, Kind::empty);
  EXPECT_EQ(cmd.stats_group, "");
}

// The key length limit holds wherever a key starts and ends within the
// scanner's eight-byte words, and whichever separator follows it.
TEST(TextParserTest, KeyOf250BytesIsValidAndOf251IsNotAtEveryAlignment) {
  for (std::size_t lead = 0; lead < 8; ++lead) {
    for (const char* after : {" k", "\tk", "  k", ""}) {
      for (const std::size_t size : {kMaxKeyBytes, kMaxKeyBytes + 1}) {
        const std::string line = "get " + std::string(lead, 'a') + " " + std::string(size, 'x') +
                                 after;
        TextCommand cmd;
        parse_text_line(line, cmd);
        const std::size_t keys = (lead > 0 ? 2U : 1U) + (std::string_view(after).empty() ? 0U : 1U);
        EXPECT_EQ(cmd.key_count, keys) << lead << " " << size;
        EXPECT_EQ(cmd.kind, size <= kMaxKeyBytes ? Kind::get : Kind::bad_format)
            << "lead " << lead << ", key of " << size << " bytes";
      }
    }
  }
}

TEST(TextParserTest, DelOrAControlByteInAnyKeyMakesTheGetBad) {
  for (std::size_t at = 0; at < 20; ++at) {
    for (const char bad : {'\x7f', '\x01', '\x1f', '\n'}) {
      std::string line = "get k0 k1 abcdefgh k2 ijklmnop";
      const std::size_t where = 4 + at;
      if (line[where] == ' ') continue;
      line[where] = bad;
      TextCommand cmd;
      parse_text_line(line, cmd);
      EXPECT_EQ(cmd.kind, Kind::bad_format) << "byte " << int(bad) << " at " << where;
    }
  }
}

}  // namespace
}  // namespace katsubushi::proto
