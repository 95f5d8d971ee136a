// Base64 for meta keys (the b flag): RFC 4648's test vectors, and every way
// an encoding can fail to be canonical.
#include <gtest/gtest.h>

#include <string>
#include <string_view>

#include "proto/meta_base64.hpp"

namespace katsubushi::proto {
namespace {

TEST(MetaBase64Test, Rfc4648Vectors) {
  const std::pair<std::string_view, std::string_view> vectors[] = {
      {"f", "Zg=="},     {"fo", "Zm8="},     {"foo", "Zm9v"},
      {"foob", "Zm9vYg=="}, {"fooba", "Zm9vYmE="}, {"foobar", "Zm9vYmFy"},
  };
  for (const auto& [plain, encoded] : vectors) {
    EXPECT_EQ(base64_encode(plain), encoded);
    EXPECT_EQ(base64_decode(encoded), std::string(plain)) << encoded;
    EXPECT_EQ(base64_decoded_size(encoded), plain.size()) << encoded;
  }
  EXPECT_EQ(base64_encode(""), "");
}

TEST(MetaBase64Test, BinaryBytesRoundTrip) {
  std::string all;
  for (int b = 0; b < 256; ++b) all += static_cast<char>(b);
  for (std::size_t n = 0; n <= all.size(); n += 7) {
    const std::string bytes = all.substr(n);
    const std::string encoded = base64_encode(bytes);
    EXPECT_EQ(encoded.size() % 4, 0u);
    EXPECT_EQ(base64_decode(encoded), bytes);
  }
  EXPECT_EQ(base64_encode(std::string_view("\x00\x01\x02\xff", 4)), "AAEC/w==");
}

TEST(MetaBase64Test, NonCanonicalIsRefused) {
  for (const std::string_view bad : {
           "",          // a key is never empty
           "Zg",        // padding left out
           "Zg=",       // too little padding
           "Zm9v=",     // length not a multiple of 4
           "Zg==Zg==",  // padding in the middle
           "Z===",      // three '='
           "====",      // nothing but padding
           "Zh==",      // bits after the last byte not zero
           "Zm9=",      // the same with one '='
           "Zm=v",      // '=' before a data character
           "Zm9v\n",    // not in the alphabet
           "Zm-v",      // the URL-safe alphabet is not base64 here
           "Zm_v",
           "Zm9 ",
       }) {
    EXPECT_FALSE(base64_decoded_size(bad).has_value()) << bad;
    EXPECT_FALSE(base64_decode(bad).has_value()) << bad;
  }
  EXPECT_FALSE(base64_decoded_size(std::string_view("Zm\0v", 4)).has_value());
}

}  // namespace
}  // namespace katsubushi::proto
