// The target's pieces: %-escape checking and path cleaning, alone.
#include "http/request_target.hpp"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

namespace katsubushi::http {
namespace {

TEST(RequestTargetTest, EscapesAreWellFormedOnlyWithTwoHexDigits) {
  for (const char* ok : {"", "/id", "/ids?n=%32", "/%7e%7E%00", "/a%20b?c=%2B"}) {
    EXPECT_TRUE(escapes_well_formed(ok)) << ok;
  }
  for (const char* bad : {"%", "/%", "/%3", "/%zz", "/%3g", "/ids?n=%g1", "/%%32", "/a?b=%2"}) {
    EXPECT_FALSE(escapes_well_formed(bad)) << bad;
  }
}

// The cases of Go's cleanPath (net/http), which go-katsubushi routes with.
TEST(RequestTargetTest, CleanPathResolvesDotSegmentsAsGoDoes) {
  for (const auto& [in, out] : std::vector<std::pair<std::string, std::string>>{
           {"/", "/"},
           {"/id", "/id"},
           {"/id/", "/id/"},
           {"//id", "/id"},
           {"/a//b///c", "/a/b/c"},
           {"/./id", "/id"},
           {"/x/../id", "/id"},
           {"/../id", "/id"},
           {"/a/b/../../..", "/"},
           {"/id/.", "/id"},
           {"/id/./", "/id/"},
           {"/a/..", "/"},
           {"/a/../", "/"},
           {"/..x/.y", "/..x/.y"},
           {"*", "*"},
           {"", ""}}) {
    EXPECT_EQ(clean_path(in), out) << in;
  }
}

}  // namespace
}  // namespace katsubushi::http
