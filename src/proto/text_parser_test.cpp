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
}

TEST(TextParserTest, GetAndGetsCollectKeys) {
  const TextCommand get = parsed("get a bb ccc");
  EXPECT_EQ(get.kind, Kind::get);
  EXPECT_EQ(get.keys, (std::vector<std::string_view>{"a", "bb", "ccc"}));

  const TextCommand gets = parsed("gets  k1   k2 ");
  EXPECT_EQ(gets.kind, Kind::gets);
  EXPECT_EQ(gets.keys, (std::vector<std::string_view>{"k1", "k2"}));
}

TEST(TextParserTest, KeysPointIntoTheLine) {
  const std::string line = "get alpha";
  const TextCommand cmd = parsed(line);
  ASSERT_EQ(cmd.keys.size(), 1u);
  EXPECT_EQ(cmd.keys[0].data(), line.data() + 4);
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
  EXPECT_EQ(kind_of(std::string_view("get a\tz")), Kind::bad_format);
  EXPECT_EQ(kind_of(std::string_view("get a\x7fz")), Kind::bad_format);
  EXPECT_EQ(kind_of(std::string_view("get a\0z", 7)), Kind::bad_format);
  EXPECT_EQ(kind_of(std::string_view("gets a\rz")), Kind::bad_format);
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
  EXPECT_EQ(kind_of("stats a b"), Kind::unknown);
}

TEST(TextParserTest, VersionAndQuitTakeNoArguments) {
  EXPECT_EQ(kind_of("version"), Kind::version);
  EXPECT_EQ(kind_of("version x"), Kind::unknown);
  EXPECT_EQ(kind_of("quit"), Kind::quit);
  EXPECT_EQ(kind_of("quit now"), Kind::unknown);
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
  for (const char* line : {"incr k 1", "delete k", "flush_all", "touch k 1", "mg k v", "x",
                           "getx a", "ge a"}) {
    EXPECT_EQ(kind_of(line), Kind::unknown) << line;
  }
}

TEST(TextParserTest, ReusedCommandIsReset) {
  TextCommand cmd;
  parse_text_line("cas k 0 0 3 1 noreply", cmd);
  ASSERT_EQ(cmd.kind, Kind::storage);
  parse_text_line("get a b", cmd);
  EXPECT_EQ(cmd.kind, Kind::get);
  EXPECT_EQ(cmd.keys.size(), 2u);
  EXPECT_EQ(cmd.data_bytes, 0u);
  EXPECT_FALSE(cmd.noreply);
  parse_text_line("stats settings", cmd);
  EXPECT_TRUE(cmd.keys.empty());
  parse_text_line("", cmd);
  EXPECT_EQ(cmd.kind, Kind::empty);
  EXPECT_EQ(cmd.stats_group, "");
}

}  // namespace
}  // namespace katsubushi::proto
