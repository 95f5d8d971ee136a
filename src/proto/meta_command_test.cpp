// parse_meta_line and render_meta_request: each meta command, each mg flag,
// and a malformed case next to each.
#include <gtest/gtest.h>

#include <string>
#include <string_view>

#include "proto/meta_command.hpp"

namespace katsubushi::proto {
namespace {

struct Parsed {
  MetaError error = MetaError::none;
  MetaRequest request;
};

Parsed parsed(std::string_view line) {
  Parsed p;
  p.error = parse_meta_line(line, p.request);
  return p;
}

MetaError error_of(std::string_view line) { return parsed(line).error; }

TEST(MetaCommandTest, NamesAreCaseInsensitive) {
  EXPECT_EQ(meta_command_kind("mg"), MetaCommandKind::get);
  EXPECT_EQ(meta_command_kind("MG"), MetaCommandKind::get);
  EXPECT_EQ(meta_command_kind("mN"), MetaCommandKind::noop);
  EXPECT_EQ(meta_command_kind("ms"), MetaCommandKind::set);
  EXPECT_EQ(meta_command_kind("md"), MetaCommandKind::remove);
  EXPECT_EQ(meta_command_kind("ma"), MetaCommandKind::arithmetic);
  EXPECT_EQ(meta_command_kind("me"), MetaCommandKind::debug);
  for (const std::string_view other : {"m", "mgx", "mx", "get", "", "g"}) {
    EXPECT_FALSE(meta_command_kind(other).has_value()) << other;
  }
  EXPECT_EQ(meta_command_name(MetaCommandKind::arithmetic), "ma");
}

TEST(MetaCommandTest, MgWithEveryFlagKeepsTheirOrder) {
  const Parsed p = parsed("mg key t s f c q v k Oop b");
  ASSERT_EQ(p.error, MetaError::bad_base64_key);  // "key" is not base64

  const Parsed q = parsed("mg a2V5 t s f c q v k Oop b");
  ASSERT_EQ(q.error, MetaError::none);
  const MetaRequest& r = q.request;
  EXPECT_EQ(r.kind, MetaCommandKind::get);
  EXPECT_EQ(r.key, "a2V5");
  EXPECT_EQ(r.opaque, "op");
  EXPECT_EQ(r.flag_order(), "tsfcqvkOb");
  EXPECT_TRUE(r.flags.base64_key && r.flags.return_cas && r.flags.return_flags &&
              r.flags.return_key && r.flags.opaque && r.flags.quiet && r.flags.return_size &&
              r.flags.return_ttl && r.flags.return_value);
}

TEST(MetaCommandTest, MgWithoutFlags) {
  const Parsed p = parsed("mg k");
  ASSERT_EQ(p.error, MetaError::none);
  EXPECT_EQ(p.request.key, "k");
  EXPECT_EQ(p.request.flags, MetaFlags{});
  EXPECT_EQ(p.request.flag_order(), "");
}

TEST(MetaCommandTest, ViewsPointIntoTheLine) {
  const std::string line = "mg key Oabc";
  MetaRequest r;
  ASSERT_EQ(parse_meta_line(line, r), MetaError::none);
  EXPECT_EQ(r.key.data(), line.data() + 3);
  EXPECT_EQ(r.opaque.data(), line.data() + 8);
}

TEST(MetaCommandTest, SeparatorsAreTheTextProtocols) {
  const Parsed p = parsed("\tmg\x0bkey \x0c v\r");
  ASSERT_EQ(p.error, MetaError::none);
  EXPECT_EQ(p.request.key, "key");
  EXPECT_EQ(p.request.flag_order(), "v");
}

TEST(MetaCommandTest, KeyRules) {
  EXPECT_EQ(error_of("mg"), MetaError::bad_format);
  EXPECT_EQ(error_of("mg   "), MetaError::bad_format);
  EXPECT_EQ(error_of("mg " + std::string(250, 'k') + " v"), MetaError::none);
  EXPECT_EQ(error_of("mg " + std::string(251, 'k') + " v"), MetaError::bad_format);
  EXPECT_EQ(error_of(std::string_view("mg a\x01z v")), MetaError::bad_format);
  EXPECT_EQ(error_of(std::string_view("mg a\0z v", 8)), MetaError::bad_format);
  EXPECT_EQ(error_of("mg a\x7f v"), MetaError::bad_format);
  EXPECT_EQ(error_of("mg \xe9\xb0\xb9 v"), MetaError::none);  // UTF-8 bytes are allowed
}

TEST(MetaCommandTest, Base64Keys) {
  EXPECT_EQ(error_of("mg Zm9v b"), MetaError::none);
  EXPECT_EQ(error_of("mg AAEC/w== b v"), MetaError::none);  // decodes to 00 01 02 ff
  EXPECT_EQ(error_of("mg Zm9 b"), MetaError::bad_base64_key);
  EXPECT_EQ(error_of("mg Zm9= b"), MetaError::bad_base64_key);
  EXPECT_EQ(error_of("mg Zm9v= b"), MetaError::bad_base64_key);
  // The length limit is on the key as sent, as memcached has it.
  const std::string long_b64(252, 'A');
  EXPECT_EQ(error_of("mg " + long_b64 + " b"), MetaError::bad_format);
  EXPECT_EQ(error_of("mg " + std::string(248, 'A') + " b"), MetaError::none);
  // A control byte in a key is a decoding error once b says it is base64.
  EXPECT_EQ(error_of("mg Zm\x01v b"), MetaError::bad_base64_key);
}

TEST(MetaCommandTest, FlagErrors) {
  EXPECT_EQ(error_of("mg k x"), MetaError::invalid_flag);
  EXPECT_EQ(error_of("mg k V"), MetaError::invalid_flag);      // flags are case-sensitive
  EXPECT_EQ(error_of("mg k kv"), MetaError::invalid_flag);     // one letter per token
  EXPECT_EQ(error_of("mg k v1"), MetaError::invalid_flag);
  EXPECT_EQ(error_of("mg k T30"), MetaError::invalid_flag);    // memcached's, not ours
  EXPECT_EQ(error_of("mg k N30 v"), MetaError::invalid_flag);
  EXPECT_EQ(error_of("mg k \xff"), MetaError::invalid_flag);
  EXPECT_EQ(error_of("mg k v v"), MetaError::duplicate_flag);
  EXPECT_EQ(error_of("mg k Oa Ob"), MetaError::duplicate_flag);
  EXPECT_EQ(error_of("mg k Pa Pb"), MetaError::duplicate_flag);
  // A bad flag is reported before a bad key, as memcached does.
  EXPECT_EQ(error_of(std::string_view("mg a\x01 x")), MetaError::invalid_flag);
  EXPECT_EQ(error_of("mg !!!! b v v"), MetaError::duplicate_flag);
}

TEST(MetaCommandTest, Opaque) {
  const std::string at_limit(kMaxOpaqueBytes, 'o');
  const std::string line = "mg k O" + at_limit;  // the views point into it
  const Parsed p = parsed(line);
  ASSERT_EQ(p.error, MetaError::none);
  EXPECT_EQ(p.request.opaque, at_limit);
  EXPECT_EQ(error_of("mg k O" + at_limit + "o"), MetaError::opaque_too_long);
  EXPECT_EQ(parsed("mg k O").request.opaque, "");  // an empty opaque is echoed as "O"
  EXPECT_TRUE(parsed("mg k O").request.flags.opaque);
  EXPECT_EQ(error_of("mg k Oa\x01z"), MetaError::bad_format);
  EXPECT_EQ(error_of("mg k Oa\x7f"), MetaError::bad_format);
}

TEST(MetaCommandTest, ProxyHintsAreIgnored) {
  const Parsed p = parsed("mg k Lpath/ v P/route");
  ASSERT_EQ(p.error, MetaError::none);
  EXPECT_EQ(p.request.flag_order(), "v");
  EXPECT_EQ(error_of("mg k L"), MetaError::none);
}

TEST(MetaCommandTest, Noop) {
  EXPECT_EQ(parsed("mn").request.kind, MetaCommandKind::noop);
  EXPECT_EQ(error_of("mn"), MetaError::none);
  EXPECT_EQ(error_of("mn whatever x y"), MetaError::none);  // memcached ignores the rest
}

TEST(MetaCommandTest, SetAnnouncesItsBlock) {
  const Parsed p = parsed("ms key 17 T0 F5 q");
  ASSERT_EQ(p.error, MetaError::none);
  EXPECT_EQ(p.request.kind, MetaCommandKind::set);
  EXPECT_EQ(p.request.key, "key");
  EXPECT_EQ(p.request.data_bytes, 17u);
  // Only the length frames the stream: a bad key or flag is still a block to skip.
  EXPECT_EQ(parsed("ms " + std::string(300, 'k') + " 2 zz").request.data_bytes, 2u);
  EXPECT_EQ(error_of("ms " + std::string(300, 'k') + " 2 zz"), MetaError::none);
  for (const std::string_view bad :
       {"ms", "ms key", "ms key x", "ms key -1", "ms key 1x", "ms key +1",
        "ms key 99999999999999999999"}) {
    const Parsed b = parsed(bad);
    EXPECT_EQ(b.error, MetaError::bad_format) << bad;
    EXPECT_EQ(b.request.data_bytes, 0u) << bad;
  }
}

TEST(MetaCommandTest, UnservedCommandsNeedAKey) {
  EXPECT_EQ(parsed("md k q").request.kind, MetaCommandKind::remove);
  EXPECT_EQ(parsed("ma k D5").request.kind, MetaCommandKind::arithmetic);
  EXPECT_EQ(parsed("me k").request.kind, MetaCommandKind::debug);
  EXPECT_EQ(error_of("md k q"), MetaError::none);
  for (const std::string_view bad : {"md", "ma ", "me\t"}) {
    EXPECT_EQ(error_of(bad), MetaError::bad_format) << bad;
  }
}

TEST(MetaCommandTest, NotAMetaLine) {
  EXPECT_EQ(error_of(""), MetaError::bad_format);
  EXPECT_EQ(error_of("get k"), MetaError::bad_format);
}

TEST(MetaCommandTest, RenderParsesBack) {
  for (const std::string_view line :
       {"mg k", "mg k v", "MG  k\tv  c ", "mg a2V5 k b v Oxyz t s f q c", "mg k O", "mn",
        "mn extra", "ms k 0", "ms k 12 T9", "md k q", "ma k", "me k", "mg k Lx v Py"}) {
    const Parsed first = parsed(line);
    ASSERT_EQ(first.error, MetaError::none) << line;
    const std::string text = render_meta_request(first.request);
    const Parsed again = parsed(text);
    ASSERT_EQ(again.error, MetaError::none) << text;
    EXPECT_EQ(again.request.kind, first.request.kind) << text;
    EXPECT_EQ(again.request.key, first.request.key) << text;
    EXPECT_EQ(again.request.opaque, first.request.opaque) << text;
    EXPECT_EQ(again.request.flags, first.request.flags) << text;
    EXPECT_EQ(again.request.flag_order(), first.request.flag_order()) << text;
    EXPECT_EQ(again.request.data_bytes, first.request.data_bytes) << text;
  }
  EXPECT_EQ(render_meta_request(parsed("MG  k\tv  Oq ").request), "mg k v Oq");
}

TEST(MetaCommandTest, ReusedRequestIsReset) {
  MetaRequest r;
  ASSERT_EQ(parse_meta_line("mg k v c Oabc", r), MetaError::none);
  ASSERT_EQ(parse_meta_line("mg j", r), MetaError::none);
  EXPECT_EQ(r.flags, MetaFlags{});
  EXPECT_EQ(r.opaque, "");
  EXPECT_EQ(r.flag_order(), "");
  ASSERT_EQ(parse_meta_line("ms k 5", r), MetaError::none);
  ASSERT_EQ(parse_meta_line("mn", r), MetaError::none);
  EXPECT_EQ(r.data_bytes, 0u);
  EXPECT_EQ(r.key, "");
}

}  // namespace
}  // namespace katsubushi::proto
