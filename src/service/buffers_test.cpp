// Buffer storage stays within storage_bound() of the most it held, however
// the bytes arrive: the figure the README's memory formula is built on.
#include "service/buffers.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>

namespace katsubushi::service {
namespace {

constexpr std::size_t kSteps[] = {1, 7, 64, 509, 4095, 4097, 16384, 65536};

TEST(BufferStorage, OutputGrowsWithinTheBound) {
  for (const std::size_t step : kSteps) {
    OutputBuffer out;
    const std::string chunk(step, 'x');
    std::size_t held = 0;
    while (held < std::size_t{256} * 1024) {
      out.append(chunk);
      held = std::max(held, out.unsent_size());
      ASSERT_LE(out.capacity_bytes(), storage_bound(held)) << "step " << step << " held " << held;
    }
  }
}

// Bytes written in place keep their order among appended ones; what was
// not written is given back.
TEST(BufferStorage, OutputWrittenInPlaceKeepsOnlyWhatWasWritten) {
  OutputBuffer out;
  out.append("VALUE ");
  char* at = out.begin_write(64);
  EXPECT_EQ(out.unsent_size(), 6u + 64u);
  at[0] = 'a';
  at[1] = 'b';
  out.end_write(at + 2);
  out.append("\r\n");
  EXPECT_EQ(out.unsent(), "VALUE ab\r\n");
  // Nothing written gives it all back.
  at = out.begin_write(16);
  out.end_write(at);
  EXPECT_EQ(out.unsent(), "VALUE ab\r\n");
  // After part of it was sent: the unsent bytes come first.
  out.consume(6);
  at = out.begin_write(3);
  at[0] = 'c';
  out.end_write(at + 1);
  EXPECT_EQ(out.unsent(), "ab\r\nc");
}

TEST(BufferStorage, InputGrowsWithinTheBound) {
  for (const std::size_t step : kSteps) {
    InputBuffer in;
    const std::string chunk(step, 'x');
    std::size_t held = 0;
    while (held < std::size_t{256} * 1024) {
      in.append(chunk);
      held = std::max(held, in.pending().size());
      // A partial consumer: half a chunk taken each time, the rest kept.
      in.consume(std::max<std::size_t>(step / 2, 1) - (step == 1 ? 1 : 0));
      ASSERT_LE(in.capacity_bytes(), storage_bound(held)) << "step " << step << " held " << held;
    }
  }
}

}  // namespace
}  // namespace katsubushi::service
