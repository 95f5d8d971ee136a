#include "client/id_check.hpp"

#include <gtest/gtest.h>

#include <vector>

#include "id/layout.hpp"

namespace katsubushi::client {
namespace {

using namespace std::chrono_literals;

constexpr std::int64_t kNowUnixMs = 1767225600000;  // 2026-01-01
constexpr std::int64_t kNowIdMs = kNowUnixMs - id::kEpochUnixMs;

std::uint64_t at(std::int64_t id_ms, std::uint32_t worker = 7, std::uint32_t seq = 0) {
  return id::encode({.timestamp_ms = id_ms, .worker_id = worker, .sequence = seq});
}

std::string check(const std::vector<std::uint64_t>& ids, std::size_t asked = 0) {
  return check_ids(ids, asked == 0 ? ids.size() : asked, kNowUnixMs, 5000ms);
}

TEST(IdCheck, TakesIdsOfTheLayoutUpToTheSkewAhead) {
  EXPECT_EQ(check({at(kNowIdMs)}), "");
  EXPECT_EQ(check({at(kNowIdMs - 86'400'000)}), "");  // old is fine: a server's clock behind
  EXPECT_EQ(check({at(kNowIdMs + 5000)}), "");
  EXPECT_EQ(check({at(kNowIdMs, 7, 1), at(kNowIdMs, 7, 2), at(kNowIdMs + 1, 7, 0)}), "");
}

TEST(IdCheck, RefusesWhatNoServerShouldSend) {
  EXPECT_EQ(check({0}), "id 0");
  EXPECT_NE(check({at(kNowIdMs) | (std::uint64_t{1} << 63)}).find("top bit"), std::string::npos);
  EXPECT_NE(check({at(kNowIdMs, 0)}).find("worker id 0"), std::string::npos);
  EXPECT_NE(check({at(kNowIdMs + 5001)}).find("5001 ms in the future"), std::string::npos);
  EXPECT_NE(check({at(kNowIdMs, 7, 2), at(kNowIdMs, 7, 2)}).find("not above"), std::string::npos);
  EXPECT_NE(check({at(kNowIdMs, 7, 2), at(kNowIdMs, 7, 1)}).find("not above"), std::string::npos);
  EXPECT_EQ(check({at(kNowIdMs)}, 2), "1 ids where 2 were asked");
}

}  // namespace
}  // namespace katsubushi::client
