#include "conform/pattern.hpp"

#include <gtest/gtest.h>

#include <string>

#include "conform/pattern_test_support.hpp"

namespace katsubushi::conform {
namespace {

using pattern_test::parsed;

std::string parse_error(std::string_view text) {
  Pattern p;
  std::string error;
  EXPECT_FALSE(parse_pattern(text, p, error)) << text;
  return error;
}

TEST(ConformPattern, EscapesDecodeToBytes) {
  std::string out;
  std::string error;
  ASSERT_TRUE(decode_text(R"(a\r\n\t\0\\\{\}\x7f\xFF)", out, error)) << error;
  EXPECT_EQ(out, std::string("a\r\n\t\0\\{}\x7f\xff", 10));
}

TEST(ConformPattern, RepetitionIsALiteral) {
  std::string out;
  std::string error;
  ASSERT_TRUE(decode_text("get {5*k}{3*\\x20}!", out, error)) << error;
  EXPECT_EQ(out, "get kkkkk   !");
  ASSERT_TRUE(decode_text("{0*k}", out, error));
  EXPECT_EQ(out, "");
}

TEST(ConformPattern, BracesThatAreNotPlaceholdersAreLiteral) {
  const Pattern p = parsed(R"({"id":"{id}"})");
  ASSERT_EQ(p.elements.size(), 3u);
  EXPECT_EQ(p.elements[0].bytes, R"({"id":")");
  EXPECT_EQ(p.elements[1].kind, ElementKind::id);
  EXPECT_EQ(p.elements[2].bytes, R"("})");
}

TEST(ConformPattern, MalformedPatternsAreErrors) {
  EXPECT_NE(parse_error("{idd}").find("unknown placeholder"), std::string::npos);
  EXPECT_NE(parse_error("{id").find("unclosed"), std::string::npos);
  EXPECT_NE(parse_error("x\\").find("lone"), std::string::npos);
  EXPECT_NE(parse_error("\\q").find("unknown escape"), std::string::npos);
  EXPECT_NE(parse_error("\\x4").find("two hex digits"), std::string::npos);
  EXPECT_NE(parse_error("{5*ab}").find("repetition"), std::string::npos);
  EXPECT_NE(parse_error("{99999999999*a}").find("repetition"), std::string::npos);
  // {id-len} and {cas} describe an {id} that follows them.
  EXPECT_NE(parse_error("VALUE a 0 {id-len}\\r\\n").find("without an {id}"), std::string::npos);
  EXPECT_NE(parse_error("{id} {cas}").find("without an {id}"), std::string::npos);
  std::string out;
  std::string error;
  EXPECT_FALSE(decode_text("get {id}", out, error));
}

}  // namespace
}  // namespace katsubushi::conform
