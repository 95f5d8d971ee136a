// The reply writer for meta requests, checked against replies written out by
// hand in memcached's shapes.
#include <gtest/gtest.h>

#include <string>
#include <string_view>

#include "proto/meta_reply.hpp"

namespace katsubushi::proto {
namespace {

constexpr std::uint64_t kId = 1234567890123456789;  // 19 digits

std::string reply_to(std::string_view line, std::uint64_t id = kId) {
  MetaRequest r;
  EXPECT_EQ(parse_meta_line(line, r), MetaError::none) << line;
  service::OutputBuffer out;
  append_meta_get_reply(r, id, out);
  return std::string(out.unsent());
}

TEST(MetaReplyTest, ValueOrHeaderOnly) {
  EXPECT_EQ(reply_to("mg k v"), "VA 19\r\n1234567890123456789\r\n");
  EXPECT_EQ(reply_to("mg k"), "HD\r\n");
  EXPECT_EQ(reply_to("mg k v", 7), "VA 1\r\n7\r\n");
}

TEST(MetaReplyTest, ReturnFlagsInRequestOrder) {
  EXPECT_EQ(reply_to("mg key k v c f s t Oxy"),
            "VA 19 kkey c1234567890123456789 f0 s19 t-1 Oxy\r\n1234567890123456789\r\n");
  EXPECT_EQ(reply_to("mg key Oxy t s f c k"),
            "HD Oxy t-1 s19 f0 c1234567890123456789 kkey\r\n");
  EXPECT_EQ(reply_to("mg k O"), "HD O\r\n");
}

TEST(MetaReplyTest, QuietSuppressesNothingOnAHit) {
  EXPECT_EQ(reply_to("mg k q"), "HD\r\n");
  EXPECT_EQ(reply_to("mg k q v k"), "VA 19 kk\r\n1234567890123456789\r\n");
}

TEST(MetaReplyTest, Base64KeyIsReturnedAsGivenWithB) {
  EXPECT_EQ(reply_to("mg Zm9v b k v"), "VA 19 kZm9v b\r\n1234567890123456789\r\n");
  EXPECT_EQ(reply_to("mg Zm9v k b"), "HD kZm9v b\r\n");
  EXPECT_EQ(reply_to("mg Zm9v b v"), "VA 19\r\n1234567890123456789\r\n");  // no k, no key
}

TEST(MetaReplyTest, ProxyHintsAreNotEchoed) {
  EXPECT_EQ(reply_to("mg k Lpath v Px"), "VA 19\r\n1234567890123456789\r\n");
}

TEST(MetaReplyTest, Errors) {
  EXPECT_EQ(meta_error_reply(MetaError::bad_format), "CLIENT_ERROR bad command line format\r\n");
  EXPECT_EQ(meta_error_reply(MetaError::invalid_flag), "CLIENT_ERROR invalid flag\r\n");
  EXPECT_EQ(meta_error_reply(MetaError::duplicate_flag), "CLIENT_ERROR duplicate flag\r\n");
  EXPECT_EQ(meta_error_reply(MetaError::opaque_too_long),
            "CLIENT_ERROR opaque token too long\r\n");
  EXPECT_EQ(meta_error_reply(MetaError::bad_base64_key), "CLIENT_ERROR error decoding key\r\n");
  EXPECT_EQ(meta_unsupported_reply(MetaCommandKind::set), "CLIENT_ERROR ms not supported\r\n");
  EXPECT_EQ(meta_unsupported_reply(MetaCommandKind::remove), "CLIENT_ERROR md not supported\r\n");
  EXPECT_EQ(meta_unsupported_reply(MetaCommandKind::arithmetic),
            "CLIENT_ERROR ma not supported\r\n");
  EXPECT_EQ(meta_unsupported_reply(MetaCommandKind::debug), "CLIENT_ERROR me not supported\r\n");
}

}  // namespace
}  // namespace katsubushi::proto
