#include "bench/json_object.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>

namespace katsubushi::bench {
namespace {

TEST(JsonObjectTest, EmptyIsAnEmptyObject) { EXPECT_EQ(JsonObject().str(), "{}"); }

TEST(JsonObjectTest, KeysInOrderWithTheirTypes) {
  JsonObject o;
  o.add("requests", std::uint64_t{123});
  o.add("requests_per_s", 45.6789);
  o.add("proto", "text");
  o.add("check", true);
  o.add("big", std::numeric_limits<std::uint64_t>::max());
  EXPECT_EQ(o.str(),
            R"({"requests":123,"requests_per_s":45.679,"proto":"text","check":true,)"
            R"("big":18446744073709551615})");
}

TEST(JsonObjectTest, NonFiniteNumbersAreNull) {
  JsonObject o;
  o.add("a", std::numeric_limits<double>::quiet_NaN());
  o.add("b", std::numeric_limits<double>::infinity());
  EXPECT_EQ(o.str(), R"({"a":null,"b":null})");
}

TEST(JsonObjectTest, StringsAreEscaped) {
  EXPECT_EQ(json_string("plain"), R"("plain")");
  EXPECT_EQ(json_string("a\"b\\c"), R"("a\"b\\c")");
  EXPECT_EQ(json_string("line\nnext\ttab\x01"), R"("line\nnext\u0009tab\u0001")");
  EXPECT_EQ(json_string("\xc2\xb5s"), "\"\xc2\xb5s\"");  // UTF-8 passes through
}

}  // namespace
}  // namespace katsubushi::bench
