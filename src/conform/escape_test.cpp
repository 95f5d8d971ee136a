#include "conform/escape.hpp"

#include <gtest/gtest.h>

#include <string>

namespace katsubushi::conform {
namespace {

TEST(ConformPattern, HexAndPrintable) {
  std::string out;
  std::string error;
  ASSERT_TRUE(decode_hex("80 00 0001\tFF", out, error)) << error;
  EXPECT_EQ(out, std::string("\x80\x00\x00\x01\xff", 5));
  EXPECT_FALSE(decode_hex("8 0", out, error));
  EXPECT_FALSE(decode_hex("800", out, error));
  EXPECT_FALSE(decode_hex("zz", out, error));
  EXPECT_EQ(printable(std::string("a\r\n\t\\\x01\x80", 7)), "a\\r\\n\\t\\\\\\x01\\x80");
  EXPECT_EQ(printable("abcdef", 3), "abc...");
}

TEST(ConformPattern, DecodeEscapeSaysHowMuchItRead) {
  char c = 0;
  std::size_t used = 0;
  std::string error;
  ASSERT_TRUE(decode_escape("a\\x41b", 1, c, used, error)) << error;
  EXPECT_EQ(c, 'A');
  EXPECT_EQ(used, 4u);
  ASSERT_TRUE(decode_escape("\\n", 0, c, used, error)) << error;
  EXPECT_EQ(c, '\n');
  EXPECT_EQ(used, 2u);
  EXPECT_FALSE(decode_escape("\\", 0, c, used, error));
}

}  // namespace
}  // namespace katsubushi::conform
