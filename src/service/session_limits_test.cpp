#include "service/session_limits.hpp"

#include <gtest/gtest.h>

#include "config/limits.hpp"

namespace katsubushi::service {
namespace {

TEST(SessionLimitsTest, SessionLimitsComeFromTheConfig) {
  const SessionLimits defaults;
  const SessionLimits from_default_config = session_limits(config::Config{});
  EXPECT_EQ(from_default_config.max_line_bytes, defaults.max_line_bytes);
  EXPECT_EQ(from_default_config.max_output_bytes, defaults.max_output_bytes);
  EXPECT_EQ(from_default_config.max_data_block_bytes, defaults.max_data_block_bytes);
  EXPECT_EQ(defaults.max_line_bytes, config::kDefaultMaxLineBytes);
  EXPECT_EQ(defaults.max_output_bytes, config::kMaxOutputBytes);
  EXPECT_EQ(defaults.max_data_block_bytes, config::kMaxDataBlockBytes);

  config::Config c = config::parse_config({"-max-line-bytes=4096"}, nullptr);
  c.max_output_bytes = 1000;
  c.max_data_block_bytes = 2000;
  const SessionLimits limits = session_limits(c);
  EXPECT_EQ(limits.max_line_bytes, 4096u);
  EXPECT_EQ(limits.max_output_bytes, 1000u);
  EXPECT_EQ(limits.max_data_block_bytes, 2000u);
}

}  // namespace
}  // namespace katsubushi::service
