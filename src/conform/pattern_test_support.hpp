// Test support for the pattern tests: a pattern that must parse.
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <string_view>

#include "conform/pattern.hpp"

namespace katsubushi::conform::pattern_test {

inline Pattern parsed(std::string_view text) {
  Pattern p;
  std::string error;
  EXPECT_TRUE(parse_pattern(text, p, error)) << text << ": " << error;
  return p;
}

}  // namespace katsubushi::conform::pattern_test
